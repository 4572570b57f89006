; Vigil: electron-builder NSIS include (electron-builder.yml: nsis.include).
; Per-machine install. Silent-install switches (Intune, SCCM, GPO; docs/installers.md):
;   "Vigil Setup <version>.exe" /S /CONSOLEURL=https://console.school.example /ENROLLTOKEN=<token> /CONSOLEKEY=<base64 key>
; The MSI (msiWrapped target) passes its CONSOLEURL, ENROLLTOKEN and CONSOLEKEY properties as
; these switches. The switches are parsed by `vigil install-config --installer-args-env`
; (parametersFromInstallerArgs in src/agent/install-config.ts, tested there), not here.
;
; NOT VERIFIED on Windows from this repository's CI machine (no Windows there): written against
; the documented NSIS, icacls, sc.exe and WinSW command lines; the GitHub Actions windows job
; builds it.

!include "LogicLib.nsh"

!define VIGIL_SERVICE_ID "VigilAgent"
!define VIGIL_RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define VIGIL_NODE '"$INSTDIR\resources\service\node.exe" "$INSTDIR\resources\service\bin\vigil.js"'
!define VIGIL_WINSW '"$INSTDIR\resources\windows\vigil-service.exe"'

Var VigilData

!macro vigilStopService
  ; Stop and unregister a service left by an earlier version (ignored when there is none).
  nsExec::ExecToLog 'sc.exe stop ${VIGIL_SERVICE_ID}'
  Pop $0
  Sleep 2000
  nsExec::ExecToLog '${VIGIL_WINSW} uninstall'
  Pop $0
!macroend

!macro customInstall
  ReadEnvStr $VigilData PROGRAMDATA
  StrCpy $VigilData "$VigilData\Vigil"
  CreateDirectory "$VigilData\agent"
  CreateDirectory "$VigilData\logs"
  ; SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544) only, inherited by everything below
  ; (the device key, the enrollment token). Well-known SIDs work in every Windows language.
  nsExec::ExecToLog 'icacls "$VigilData" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
  Pop $0

  ; vigil install-config reads the switches from the installer's own command line ($CMDLINE),
  ; handed over in the environment so that the token is on no other process's command line. It
  ; writes nothing when no enrollment switch is there, and nothing when one is bad (then it
  ; exits 2 and says why in the log).
  ; Passed through register $0 (r0): quotes in $CMDLINE must not reach System::Call's parser.
  StrCpy $0 $CMDLINE
  System::Call 'Kernel32::SetEnvironmentVariable(t "VIGIL_INSTALLER_ARGS", t r0) i'
  nsExec::ExecToLog '${VIGIL_NODE} install-config --installer-args-env VIGIL_INSTALLER_ARGS --out "$VigilData\enroll.json"'
  Pop $0
  System::Call 'Kernel32::SetEnvironmentVariable(t "VIGIL_INSTALLER_ARGS", p 0) i'
  ${If} $0 != 0
    SetErrorLevel 2
    MessageBox MB_ICONSTOP "Vigil: the console URL, enrollment token or console key is not valid; see the install log." /SD IDOK
    Abort
  ${EndIf}

  ; The agent service (LocalSystem), run by WinSW: node.exe itself cannot answer the service
  ; control manager. installer/windows/vigil-service.xml is its configuration.
  !insertmacro vigilStopService
  nsExec::ExecToLog '${VIGIL_WINSW} install'
  Pop $0
  nsExec::ExecToLog 'sc.exe failure ${VIGIL_SERVICE_ID} reset= 0 actions= restart/5000/restart/5000/restart/5000'
  Pop $0
  ${If} ${FileExists} "$VigilData\enroll.json"
    nsExec::ExecToLog '${VIGIL_NODE} agent enroll --data-dir "$VigilData\agent" --enroll-file "$VigilData\enroll.json"'
    Pop $0
  ${EndIf}
  nsExec::ExecToLog 'sc.exe start ${VIGIL_SERVICE_ID}'
  Pop $0

  ; The tray starts at every user's sign-in.
  WriteRegStr HKLM "${VIGIL_RUN_KEY}" "VigilTray" '"$INSTDIR\${APP_EXECUTABLE_FILENAME}" --hidden'
!macroend

!macro customUnInstall
  ReadEnvStr $VigilData PROGRAMDATA
  StrCpy $VigilData "$VigilData\Vigil"
  !insertmacro vigilStopService
  ${IfNot} ${isUpdated}
    ; A real removal (not the old version's uninstaller run by an update): tell the console,
    ; signed with the device key, so it revokes the device; then remove everything.
    nsExec::ExecToLog '${VIGIL_NODE} agent uninstall-notice --data-dir "$VigilData\agent"'
    Pop $0
    DeleteRegValue HKLM "${VIGIL_RUN_KEY}" "VigilTray"
    RMDir /r "$VigilData"
  ${EndIf}
!macroend
