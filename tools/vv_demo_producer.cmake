vv_add_tool(vv-demo-producer vv_demo_producer.cc vv_client vv_crypto vv_json)
