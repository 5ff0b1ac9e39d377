vv_add_tool(vv-loadgen vv_loadgen.cc vv_client vv_crypto vv_json)
