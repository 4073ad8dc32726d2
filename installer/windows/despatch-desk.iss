; Despatch Desk - Inno Setup 6 script (per-user install, no admin rights needed).
;
; Built by installer/build.py, which passes the defines:
;   ISCC /DAppVersion=0.1.0 /DAppVersionNumeric=0.1.0.0 /DSourceDir=<installer\dist\despatch-desk>
;        /DOutputDir=<installer\dist> /DRepoRoot=<repo> [/Sddsign=<signtool command> $f /DSignToolName=ddsign]
;        installer\windows\despatch-desk.iss
;
; Output: DespatchDesk-<version>-setup.exe
;
; User data is NOT part of the installation and is never removed, neither on upgrade nor on
; uninstall: settings, scan history and logs live in %LOCALAPPDATA%\despatch-desk\ (platformdirs;
; not under the install folder %LOCALAPPDATA%\Programs\Despatch Desk), and the API key lives in
; Windows Credential Manager.
; Reinstalling or upgrading keeps the operator's key and history; uninstalling leaves them for a
; later reinstall (delete them by hand, or with `despatch-desk key delete` before uninstalling).
;
; Many desks (README, "Rolling out to many desks"): the setup runs without a single question with
;   DespatchDesk-x.y.z-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART [/DEFAULTS=C:\path\defaults.json]
; /DEFAULTS copies an IT department's machine defaults beside the program ({app}\defaults.json: works
; per user, no admin) and, when installing for all users (/ALLUSERS, elevated), also to
; {commonappdata}\Despatch Desk\defaults.json (ProgramData: a per-user install cannot write there).
; A /DEFAULTS file that does not exist stops the setup (exit code 1) with the reason in the setup
; log (/LOG), never with a dialog in silent mode: twenty desks must not install half set up.

#ifndef AppVersion
  #error AppVersion is not defined: build with python installer\build.py (or pass /DAppVersion=x.y.z)
#endif
#ifndef AppVersionNumeric
  #define AppVersionNumeric AppVersion
#endif
#ifndef RepoRoot
  #define RepoRoot AddBackslash(SourcePath) + "..\.."
#endif
#ifndef SourceDir
  #define SourceDir RepoRoot + "\installer\dist\despatch-desk"
#endif
#ifndef OutputDir
  #define OutputDir RepoRoot + "\installer\dist"
#endif

#define AppName "Despatch Desk"
#define AppExeName "despatch-desk.exe"
#define AppPublisher "Despatch Desk"

[Setup]
; AppId never changes: every later version finds and upgrades this installation in place
; (same folder, same Start-menu entry, one entry in Apps & features). The doubled brace escapes it.
AppId={{6F1C2B7A-3E4D-4C59-9A8E-2D7B5E1F0C34}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#AppVersionNumeric}
VersionInfoProductVersion={#AppVersionNumeric}
VersionInfoDescription={#AppName} Setup
; Per-user by default: no UAC prompt, installs to %LOCALAPPDATA%\Programs\Despatch Desk.
; IT can deploy machine-wide with: DespatchDesk-x.y.z-setup.exe /ALLUSERS (needs admin).
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=commandline
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
DefaultGroupName={#AppName}
UsePreviousAppDir=yes
; Close a running Despatch Desk (Restart Manager) before replacing its files.
CloseApplications=yes
CloseApplicationsFilter=*.exe,*.dll,*.pyd
RestartApplications=no
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6 needs Windows 10 1809 or later.
MinVersion=10.0.17763
WizardStyle=modern
SetupIconFile={#RepoRoot}\resources\icon\despatch-desk.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
OutputDir={#OutputDir}
OutputBaseFilename=DespatchDesk-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
#ifdef SignToolName
; Sign setup.exe and the uninstaller with the sign tool build.py defines on the ISCC command line.
SignTool={#SignToolName}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole runtime folder, so no file of the old version (an old DLL, or
; a second *.dist-info that would confuse keyring's backend discovery) is left beside the new one.
; Only inside {app}: user data lives elsewhere (see the top of this file).
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; Machine defaults from /DEFAULTS=path (read at install time from the admin's file, not built in).
Source: "{code:DefaultsSource}"; DestDir: "{app}"; DestName: "defaults.json"; Flags: external ignoreversion; Check: DefaultsGiven
; IT's machine-wide copy outlives this installation: an uninstall never removes it.
Source: "{code:DefaultsSource}"; DestDir: "{commonappdata}\{#AppName}"; DestName: "defaults.json"; Flags: external ignoreversion uninsneveruninstall; Check: DefaultsGiven and IsAdminInstallMode

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; WorkingDir: "{app}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#StringChange(AppName, '&', '&&')}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the app may have left inside its own install folder. Deliberately NOT removed:
; %LOCALAPPDATA%\despatch-desk (settings, history, logs) and the Credential Manager entry
; (API key): an uninstall followed by a reinstall keeps working.
Type: dirifempty; Name: "{app}"

[Code]
// /DEFAULTS=path: the machine defaults file to place (empty when not given).
function DefaultsParam(): String;
begin
  Result := Trim(ExpandConstant('{param:DEFAULTS|}'));
end;

function DefaultsGiven(): Boolean;
begin
  Result := DefaultsParam() <> '';
end;

function DefaultsSource(Param: String): String;
begin
  // A relative path is taken from the folder the setup was started in.
  Result := ExpandFileName(DefaultsParam());
end;

function InitializeSetup(): Boolean;
begin
  Result := True;
  if DefaultsGiven() and not FileExists(DefaultsSource('')) then
  begin
    Log('The /DEFAULTS file ' + DefaultsSource('') + ' does not exist: nothing was installed.');
    // Silent installs never show a dialog: the reason is in the setup log and the exit code is 1.
    if not WizardSilent() then
      MsgBox('The defaults file ' + DefaultsSource('') + ' (given with /DEFAULTS) does not exist. ' +
             'Nothing was installed.', mbError, MB_OK);
    Result := False;
  end;
end;
