module netspot

go 1.26.0

require (
	github.com/spf13/pflag v1.0.10
	golang.org/x/term v0.48.0
)

require golang.org/x/sys v0.50.0 // indirect
