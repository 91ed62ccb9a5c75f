{
  # The optional native kernel pack of tripletjs: an N-API addon over OpenBLAS (Debian:
  # libopenblas-dev). Built by native/build.mjs (`npm run build`); the library runs without it.
  "targets": [
    {
      "target_name": "tripletjs_native",
      "sources": ["tripletjs_native.cc", "metric_kernels.cc"],
      "defines": ["NAPI_VERSION=8"],
      # No fused multiply-adds: the metric kernels repeat JavaScript's float64 arithmetic exactly.
      # No errno from sqrt and pow (never read), so that loops over them vectorise.
      "cflags_cc": ["-O3", "-std=gnu++17", "-ffp-contract=off", "-fno-math-errno"],
      "libraries": ["-lopenblas", "-pthread"]
    }
  ]
}
