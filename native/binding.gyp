{
  # The optional native kernel pack of tripletjs: an N-API addon over OpenBLAS (Debian:
  # libopenblas-dev). Built by native/build.mjs (`npm run build`); the library runs without it.
  "targets": [
    {
      "target_name": "tripletjs_native",
      "sources": ["tripletjs_native.cc", "metric_kernels.cc", "dnnl_conv.cc"],
      "defines": ["NAPI_VERSION=8"],
      # oneDNN's convolutions when Debian libdnnl-dev is installed; im2col + OpenBLAS without it.
      # build.mjs detects it and passes -Dhas_dnnl (it reconfigures when the detection changes).
      "variables": {"has_dnnl%": 0},
      "conditions": [["has_dnnl==1", {"defines": ["TRIPLETJS_DNNL"], "libraries": ["-ldnnl", "-lgomp"]}]],
      # No fused multiply-adds: the metric kernels repeat JavaScript's float64 arithmetic exactly.
      # No errno from sqrt and pow (never read), so that loops over them vectorise.
      # Exceptions on: oneDNN's C++ API reports errors by throwing (caught in dnnl_conv.cc).
      "cflags_cc": ["-O3", "-std=gnu++17", "-ffp-contract=off", "-fno-math-errno", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lopenblas", "-pthread"]
    }
  ]
}
