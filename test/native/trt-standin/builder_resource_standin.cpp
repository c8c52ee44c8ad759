// Stand-in for the library libnvinfer loads at run time (see nvinfer_standin.cpp); holds nothing.
extern "C" int ct_edge_standin_builder_resource() { return 1; }
