//! Config errors exit 2 with one line naming the file, the key and the reason; secrets are
//! redacted in `check-config`. All through the real binary on real files.

mod common;

use std::path::Path;

use common::*;

fn check(path: &Path, envs: &[(&str, &str)]) -> Run {
    run(camvault()
        .arg("--config")
        .arg(path)
        .arg("check-config")
        .envs(envs.iter().copied()))
}

/// Asserts exit 2 and a single stderr line mentioning every one of `needles`.
fn assert_error(r: &Run, needles: &[&str]) {
    assert_eq!(r.code, 2, "expected exit 2, got {}: {}", r.code, r.stderr);
    let line = r.stderr.trim_end();
    assert!(!line.contains('\n'), "error is not one line: {line:?}");
    for n in needles {
        assert!(line.contains(n), "error {line:?} does not mention {n:?}");
    }
    assert!(
        r.stdout.is_empty(),
        "nothing is printed on stdout on error: {}",
        r.stdout
    );
}

#[test]
fn each_class_of_error_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        // TOML syntax: the parser's line and column.
        ("[upload\nbucket = 1\n", &["camvault.toml:5:"]),
        // Unknown key, in a section and at the top.
        (
            "[upload]\nbukket = \"b\"\n",
            &["upload.bukket:", ":6:1", "unknown key"],
        ),
        ("[uplod]\n", &["uplod", "unknown key"]),
        // Wrong type.
        (
            "[upload]\npart_size_mib = \"eight\"\n",
            &["upload.part_size_mib", ":6:"],
        ),
        // Out of range, found after parsing but still located.
        (
            "[upload]\npart_size_mib = 2\n",
            &["upload.part_size_mib", ":6:17", "out of range 5..=5120"],
        ),
        (
            "[retention]\ndisk_warn_percent = 95\n",
            &["retention.disk_critical_percent", "above"],
        ),
        (
            "[recording]\nsegment_seconds = 7\n",
            &["recording.segment_seconds"],
        ),
        (
            "[recording]\nffmpeg = \"/nonexistent/ffmpeg\"\n",
            &["recording.ffmpeg", "/nonexistent/ffmpeg", "No such file"],
        ),
        (
            "[recording]\nffmpeg = \"-i\"\n",
            &["recording.ffmpeg", "must name an ffmpeg program"],
        ),
        // Enum values.
        (
            "[upload]\ndestination = \"ftp\"\n",
            &["upload.destination", "unknown variant"],
        ),
        (
            "[upload]\nchecksum = \"sha1\"\n",
            &["upload.checksum", "unknown variant"],
        ),
        // Camera name syntax and uniqueness.
        (
            "[[camera]]\nname = \"Front Door\"\nsource = \"test:\"\n",
            &["camera[0].name", "[a-z0-9_-]{1,32}"],
        ),
        (
            "[[camera]]\nname = \"a\"\nsource = \"test:\"\n[[camera]]\nname = \"a\"\nsource = \"test:\"\n",
            &["camera[1].name", "used twice", ":9:8"],
        ),
        (
            "[[camera]]\nsource = \"test:\"\n",
            &["camera[0]", "missing field `name`"],
        ),
        // URL schemes.
        (
            "[[camera]]\nname = \"a\"\nsource = \"http://cam/x\"\n",
            &["camera[0].source", "rtsp://"],
        ),
        // Anything ffmpeg would read as a local file, a list of files or an option is refused.
        (
            "[[camera]]\nname = \"a\"\nsource = \"file:/etc/shadow\"\n",
            &["camera[0].source", "rtsp://"],
        ),
        (
            "[[camera]]\nname = \"a\"\nsource = \"concat:a.mp4|b.mp4\"\n",
            &["camera[0].source"],
        ),
        (
            "[[camera]]\nname = \"a\"\nsource = \"-f lavfi\"\n",
            &["camera[0].source"],
        ),
        (
            "[[camera]]\nname = \"a\"\nsource = \"/dev/video0\"\n",
            &["camera[0].source"],
        ),
        (
            "[[camera]]\nname = \"a\"\nsource = \"v4l2://dev/video0\"\n",
            &["camera[0].source", "v4l2:///dev/videoN"],
        ),
        (
            "[mqtt]\nurl = \"http://broker\"\n",
            &["mqtt.url", "mqtt, mqtts"],
        ),
        (
            "[upload]\nendpoint = \"s3.example.com\"\n",
            &["upload.endpoint", "http, https"],
        ),
        ("[relay]\nenabled = true\n", &["relay.rtmp_url", "required"]),
        // Required keys for a destination.
        (
            "[upload]\ndestination = \"s3\"\n",
            &["upload.bucket", "required"],
        ),
        (
            "[upload]\ndestination = \"s3\"\nbucket = \"b1b\"\naccess_key_id = \"AK\"\n",
            &["upload.secret_access_key", "required"],
        ),
        (
            "[upload]\ndestination = \"dir\"\ndir = \"relative/path\"\n",
            &["upload.dir", "absolute"],
        ),
        (
            "[upload]\nkey_template = \"{yyyy}/{camera}\"\n",
            &["upload.key_template", "{file}"],
        ),
        (
            "[upload]\nbandwidth_limit = \"fast\"\n",
            &["upload.bandwidth_limit", "rate"],
        ),
        (
            "[upload]\nbandwidth_schedule = \"Mon-8:00,1M\"\n",
            &["upload.bandwidth_schedule", "HH:MM"],
        ),
        (
            "[relay]\nmax_lag_seconds = 9999999\n",
            &["relay.max_lag_seconds", "range"],
        ),
        (
            "[ftp]\ntls_cert_file = \"/etc/c.pem\"\n",
            &["ftp.tls_key_file", "both"],
        ),
        ("[ftp]\npassive_ports = \"9-1\"\n", &["ftp.passive_ports"]),
        ("[ftp]\nenabled = true\n", &["ftp.users", "at least one"]),
        ("[device]\n", &["device", "duplicate"]),
        ("[log]\nlevel = \"loud==\"\n", &["log.level"]),
    ];
    for (extra, needles) in cases {
        let path = config(dir.path(), extra);
        let r = check(&path, &[]);
        assert_error(&r, needles);
        assert!(
            r.stderr.contains(&*path.to_string_lossy()),
            "names the file: {}",
            r.stderr
        );
    }
}

#[test]
fn device_id_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    write(&path, "[device]\nid = \"Front_Yard\"\n");
    assert_error(
        &check(&path, &[]),
        &["device.id", ":2:6", "[a-z0-9-]{1,40}"],
    );
    write(&path, "[device]\ndata_dir = \"/srv/cam%d\"\n");
    assert_error(&check(&path, &[]), &["device.data_dir", ":2:12", "%"]);
    write(&path, "[device]\ndata_dir = \"srv/cam\"\n");
    assert_error(&check(&path, &[]), &["device.data_dir", "absolute"]);
}

#[test]
fn missing_file_is_a_config_error() {
    let r = check(Path::new("/nonexistent/camvault.toml"), &[]);
    assert_error(&r, &["/nonexistent/camvault.toml", "cannot read"]);
}

#[test]
fn secret_files_must_be_private() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s3.secret");
    write_secret(&secret, "wJalrXUtnFEMI/K7MDENG\n", 0o644);
    let extra = format!(
        "[upload]\ndestination = \"s3\"\nbucket = \"bkt\"\naccess_key_id = \"AK\"\nsecret_access_key_file = \"{}\"\n",
        secret.display()
    );
    let path = config(dir.path(), &extra);
    let r = check(&path, &[]);
    assert_error(
        &r,
        &[
            "upload.secret_access_key_file",
            "group or others",
            "0644",
            ":9:26",
        ],
    );
    assert!(!r.stderr.contains("wJalrXUtnFEMI"));

    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let r = check(&path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains("wJalrXUtnFEMI"),
        "the secret read from the file is redacted"
    );

    std::fs::remove_file(&secret).unwrap();
    assert_error(
        &check(&path, &[]),
        &["upload.secret_access_key_file", "No such file"],
    );
}

/// A FIFO (or any non-regular file) as the config or a secret is refused at once: reading it
/// would block `check-config` and the daemon for ever.
#[test]
fn config_and_secrets_must_be_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let t = std::time::Instant::now();
    assert_error(&check(&fifo, &[]), &["fifo", "not a regular file"]);
    let extra = format!(
        "[upload]\ndestination = \"s3\"\nbucket = \"bkt\"\naccess_key_id = \"AK\"\nsecret_access_key_file = \"{}\"\n",
        fifo.display()
    );
    let path = config(dir.path(), &extra);
    assert_error(
        &check(&path, &[]),
        &["upload.secret_access_key_file", "not a regular file"],
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "no hang");
}

/// A value that is not UTF-8 under our prefix names the variable, never the value; one
/// elsewhere in the environment is none of our business.
#[test]
fn an_environment_value_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "");
    let bad = std::ffi::OsStr::from_bytes(b"Sekr\xffet");
    let r = run(camvault()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .env("CAMVAULT_UPLOAD_BUCKET", bad));
    assert_error(&r, &["CAMVAULT_UPLOAD_BUCKET", "not valid UTF-8"]);
    assert!(!r.stderr.contains("Sekr"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
    let r = run(camvault()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .env("SOME_OTHER_VAR", bad));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Hostile and careless input, one class per row: exit 2 naming the key, one line, no value
/// quoted (each bad value carries a canary), no panic.
#[test]
fn hostile_input_is_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "[upload]\nkey_template = \"../Canary1/{file}\"\n",
            "upload.key_template",
        ),
        (
            "[upload]\nkey_template = \"a/./Canary1/{file}\"\n",
            "upload.key_template",
        ),
        (
            "[upload]\nkey_template = \"Canary1\\n/{file}\"\n",
            "upload.key_template",
        ),
        (
            "[[camera]]\nname = \"c\"\nsource = \"rtsp://u:Canary1@h/x\\nfile /etc/passwd\"\n",
            "camera[0].source",
        ),
        (
            "[[camera]]\nname = \"c\"\nsource = \"v4l2:///dev/sda\"\n",
            "camera[0].source",
        ),
        (
            "[[camera]]\nname = \"c\"\nsource = \"v4l2:///dev/../etc/Canary1\"\n",
            "camera[0].source",
        ),
        (
            "[upload]\ndestination = \"dir\"\ndir = \"/srv/Canary1\\n\"\n",
            "upload.dir",
        ),
        (
            "[relay]\nwatch_dir = \"/srv/../Canary1\"\n",
            "relay.watch_dir",
        ),
        ("[mqtt]\nurl = \"mqtt://u:Canary1@broker:0\"\n", "mqtt.url"),
        (
            "[ftp]\nenabled = true\nlisten = \"127.0.0.1:0\"\n[[ftp.users]]\nname = \"cam\"\npassword = \"Canary1\"\n",
            "ftp.listen",
        ),
        (
            "[upload]\npart_size_mib = 99999999999999999999\n",
            "upload.part_size_mib",
        ),
        (
            "[recording]\nsegment_seconds = -1\n",
            "recording.segment_seconds",
        ),
    ];
    for (extra, key) in cases {
        let path = config(dir.path(), extra);
        let r = check(&path, &[]);
        assert_error(&r, &[key]);
        assert!(!r.stderr.contains("Canary1"), "{extra}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{extra}: {}", r.stderr);
    }
    // The data folder comes from the config helper's [device]; the environment overrides it.
    let path = config(dir.path(), "");
    for bad in ["/var/lib/../../Canary1", "/var/lib/Canary1\u{7}"] {
        let r = check(&path, &[("CAMVAULT_DEVICE_DATA_DIR", bad)]);
        assert_error(&r, &["device.data_dir", "CAMVAULT_DEVICE_DATA_DIR"]);
        assert!(!r.stderr.contains("Canary1"), "{}", r.stderr);
    }
}

#[test]
fn a_secret_given_twice_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("mqtt.secret");
    write_secret(&secret, "pw", 0o600);
    let extra = format!(
        "[mqtt]\npassword = \"inline\"\npassword_file = \"{}\"\n",
        secret.display()
    );
    assert_error(
        &check(&config(dir.path(), &extra), &[]),
        &["mqtt.password_file", "not both"],
    );
}

#[test]
fn environment_overrides_apply_and_errors_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "[upload]\nconcurrency = 3\n");

    let r = check(
        &path,
        &[
            ("CAMVAULT_UPLOAD_CONCURRENCY", "5"),
            ("CAMVAULT_MQTT_HA_DISCOVERY", "false"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("concurrency = 5"), "{}", r.stdout);
    assert!(r.stdout.contains("ha_discovery = false"), "{}", r.stdout);

    let r = check(&path, &[("CAMVAULT_UPLOAD_CONCURRENCY", "lots")]);
    assert_error(
        &r,
        &[
            "upload.concurrency",
            "CAMVAULT_UPLOAD_CONCURRENCY",
            "integer",
        ],
    );
    let r = check(&path, &[("CAMVAULT_UPLOAD_CONCURRENCY", "99")]);
    assert_error(
        &r,
        &[
            "upload.concurrency",
            "CAMVAULT_UPLOAD_CONCURRENCY",
            "out of range",
        ],
    );
    let r = check(&path, &[("CAMVAULT_UPLOAD_BUKKET", "x")]);
    assert_error(
        &r,
        &["upload.bukket", "CAMVAULT_UPLOAD_BUKKET", "unknown key"],
    );
    let r = check(&path, &[("CAMVAULT_NOPE_X", "1")]);
    assert_error(&r, &["CAMVAULT_NOPE_X", "section"]);

    // A secret from the environment is used (destination validates) and redacted.
    let extra = "[upload]\ndestination = \"s3\"\nbucket = \"bkt\"\naccess_key_id = \"AK\"\n";
    let path = config(dir.path(), extra);
    let r = check(
        &path,
        &[("CAMVAULT_UPLOAD_SECRET_ACCESS_KEY", "EnvSecret123")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("EnvSecret123"));
    assert!(r.stdout.contains("secret_access_key = \"***\""));
}

#[test]
fn a_retention_plan_sets_the_days_and_explicit_days_win() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, days) in [
        ("[retention]\nplan = \"basic\"\n", 7),
        ("[retention]\nplan = \"pro\"\n", 15),
        ("[retention]\nplan = \"premium\"\n", 30),
        ("[retention]\nplan = \"premium\"\nrecordings_days = 3\n", 3),
        ("", 7),
    ] {
        let r = check(&config(dir.path(), extra), &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains(&format!("recordings_days = {days}\n")),
            "{extra}: {}",
            r.stdout
        );
    }
    let r = check(
        &config(dir.path(), ""),
        &[("CAMVAULT_RETENTION_PLAN", "pro")],
    );
    assert!(r.stdout.contains("recordings_days = 15\n"), "{}", r.stdout);
    let r = check(&config(dir.path(), "[retention]\nplan = \"gold\"\n"), &[]);
    assert_error(&r, &["retention.plan", "basic"]);
}

const SECRETS: &[&str] = &[
    "CamPass1",
    "QueryPw2",
    "S3Secret3",
    "Token4",
    "MqttUrlPw5",
    "MqttPw6",
    "StreamKey7",
    "FtpPw8",
];

pub fn config_with_every_secret(dir: &Path) -> std::path::PathBuf {
    let ftp_secret = dir.join("ftp.secret");
    write_secret(&ftp_secret, "FtpPw8\n", 0o600);
    config(
        dir,
        &format!(
            r#"
[[camera]]
name = "front"
source = "rtsp://admin:CamPass1@192.168.0.20:554/Preview_01_main"
[[camera]]
name = "side"
source = "rtsp://10.0.0.3/cam/realmonitor?channel=1&user=admin&password=QueryPw2"
[upload]
destination = "s3"
bucket = "bkt"
access_key_id = "AKID"
secret_access_key = "S3Secret3"
session_token = "Token4"
[mqtt]
url = "mqtts://camvault:MqttUrlPw5@broker.lan:8883"
password = "MqttPw6"
[relay]
enabled = true
rtmp_url = "rtmp://a.rtmp.youtube.com/live2/StreamKey7"
[ftp]
enabled = true
users = [{{ name = "cam1", password_file = "{}" }}]
"#,
            ftp_secret.display()
        ),
    )
}

#[test]
fn check_config_redacts_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with_every_secret(dir.path());
    let r = check(&path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for s in SECRETS {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{s} leaked:\n{}",
            r.stdout
        );
    }
    // What is not secret stays visible, so the output is still useful.
    for visible in [
        "rtsp://admin:***@192.168.0.20:554/Preview_01_main",
        "channel=1",
        "rtmp://a.rtmp.youtube.com/live2/***",
        "AKID",
        "mqtts://camvault:***@broker.lan:8883",
    ] {
        assert!(
            r.stdout.contains(visible),
            "{visible} missing:\n{}",
            r.stdout
        );
    }
}

#[test]
fn errors_about_urls_do_not_echo_passwords() {
    let dir = tempfile::tempdir().unwrap();
    for source in ["rtsp://admin:Hunter22@[::1", "rtsp://admin:Hunter22@"] {
        let path = config(
            dir.path(),
            &format!("[[camera]]\nname = \"a\"\nsource = \"{source}\"\n"),
        );
        let r = check(&path, &[]);
        assert_error(&r, &["camera[0].source"]);
        assert!(!r.stderr.contains("Hunter22"), "{}", r.stderr);
    }
    // A secret of the wrong type is not quoted back either.
    let path = config(dir.path(), "[upload]\nsecret_access_key = 987654321\n");
    let r = check(&path, &[]);
    assert_error(&r, &["upload.secret_access_key", "found a integer"]);
    assert!(!r.stderr.contains("987654321"), "{}", r.stderr);
    // A TOML syntax error on a line holding a password must not quote the line.
    let path = config(
        dir.path(),
        "[mqtt]\nurl = \"mqtt://u:Hunter22@host\" trailing\n",
    );
    let r = check(&path, &[]);
    assert_error(&r, &["camvault.toml:6:"]);
    assert!(!r.stderr.contains("Hunter22"), "{}", r.stderr);
}

#[test]
fn the_shipped_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = example_config(dir.path(), "x");
    let r = check(&path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("rtsp://admin:***@192.168.0.20:554/Preview_01_main")
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(run(camvault().arg("frobnicate")).code, 2);
    assert_eq!(
        run(camvault().args([
            "segments",
            "--since",
            "yesterday",
            "--config",
            "/nonexistent"
        ]))
        .code,
        2
    );
    let help = run(camvault().arg("--help"));
    assert_eq!(help.code, 0);
    for cmd in ["run", "demo", "check-config", "status", "segments", "queue"] {
        assert!(help.stdout.contains(cmd), "--help lists {cmd}");
    }
    let v = run(camvault().arg("--version"));
    assert_eq!(
        (v.code, v.stdout.trim()),
        (0, concat!("camvault ", env!("CARGO_PKG_VERSION")))
    );
}
