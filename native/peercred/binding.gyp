{
  "targets": [
    {
      "target_name": "vigil_peercred",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/peercred.cc"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
          "defines": ["NAPI_VERSION=8"]
        }]
      ]
    }
  ]
}
