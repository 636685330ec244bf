include $(sort $(wildcard $(BR2_EXTERNAL_NETSPOT_PATH)/package/*/*.mk))
