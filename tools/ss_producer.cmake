vv_add_tool(ss-producer ss_producer.cc vv_client vv_crypto vv_json vv_common)
