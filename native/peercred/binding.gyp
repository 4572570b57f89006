{
  "targets": [
    {
      "target_name": "vigil_peercred",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/peercred.cc"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
          "defines": ["NAPI_VERSION=8"]
        }],
        ["OS=='mac'", {
          "sources": ["src/peercred.cc"],
          "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "10.15"},
          "defines": ["NAPI_VERSION=8"]
        }],
        ["OS=='win'", {
          "sources": ["src/pipe_win.cc", "src/peercred.cc"],
          "libraries": ["advapi32.lib"],
          "defines": ["NAPI_VERSION=8"],
          "msvs_settings": {"VCCLCompilerTool": {"WarnAsError": "true"}}
        }]
      ]
    }
  ]
}
