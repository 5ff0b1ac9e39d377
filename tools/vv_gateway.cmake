vv_add_tool(vv-gateway vv_gateway.cc vv_app)
