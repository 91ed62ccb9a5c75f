{
  # The optional native kernel pack of tripletjs: an N-API addon over OpenBLAS (Debian:
  # libopenblas-dev). Built by native/build.mjs (`npm run build`); the library runs without it.
  "targets": [
    {
      "target_name": "tripletjs_native",
      "sources": ["tripletjs_native.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O3", "-std=gnu++17"],
      "libraries": ["-lopenblas", "-pthread"]
    }
  ]
}
