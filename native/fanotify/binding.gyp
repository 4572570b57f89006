{
  "targets": [
    {
      "target_name": "vigil_fanotify",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/fanotify_gate.cc"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
          "defines": ["NAPI_VERSION=8"]
        }]
      ]
    }
  ]
}
