#!/bin/sh
#
# Finishes the root filesystem of the netspot appliance (buildroot passes
# the target directory as first argument).
#

set -eu

TARGET_DIR=$1

# Mount point of the data partition: the root filesystem is read-only.
mkdir -p "$TARGET_DIR/data"
