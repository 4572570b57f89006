{
  "targets": [
    {
      "target_name": "vigil_procwatch",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/procwatch.cc"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
          "defines": ["NAPI_VERSION=8"]
        }]
      ]
    }
  ]
}
