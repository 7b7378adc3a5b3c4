//! The configuration types. Every key has a default here; `docs/CONFIGURATION.md` documents
//! them and `overlay/etc/camvault/camvault.toml` shows them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Secret, SensitiveUrl};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub device: DeviceConfig,
    #[serde(rename = "camera", skip_serializing_if = "Vec::is_empty")]
    pub cameras: Vec<CameraConfig>,
    pub recording: RecordingConfig,
    pub upload: UploadConfig,
    pub retention: RetentionConfig,
    pub mqtt: MqttConfig,
    pub relay: RelayConfig,
    pub ftp: FtpConfig,
    pub ota: OtaConfig,
    pub discovery: DiscoveryConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
}

/// The sections that `CAMVAULT_<SECTION>_<KEY>` may address (`[[camera]]` is a list and
/// has no environment form).
pub const ENV_SECTIONS: &[&str] = &[
    "device",
    "recording",
    "upload",
    "retention",
    "mqtt",
    "relay",
    "ftp",
    "ota",
    "discovery",
    "http",
    "log",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    /// `[a-z0-9-]{1,40}`; defaults to `cv-` and the first 12 hex digits of /etc/machine-id.
    pub id: String,
    pub data_dir: PathBuf,
    /// Whether the `reboot` command (MQTT, control socket) may reboot the device.
    pub allow_remote_reboot: bool,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            id: default_device_id(),
            data_dir: PathBuf::from("/var/lib/camvault"),
            allow_remote_reboot: false,
        }
    }
}

fn default_device_id() -> String {
    let id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let hex: String = id
        .trim()
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.is_empty() {
        "camvault".to_string()
    } else {
        format!("cv-{hex}")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// `[a-z0-9_-]{1,32}`, unique.
    pub name: String,
    /// `rtsp://`, `rtsps://`, `v4l2:///dev/videoN` or `test:`.
    pub source: SensitiveUrl,
    /// Password for an `rtsp(s)://user@host/…` source, kept out of the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `copy`, `auto` or an ffmpeg encoder name (`libx264`, `h264_v4l2m2m`, `h264_nvenc`).
    #[serde(default = "default_encoder")]
    pub encoder: String,
    #[serde(default)]
    pub audio: AudioMode,
    /// What `source` names, resolved once when the config is loaded (validation refuses any
    /// other scheme); never written or read as a key.
    #[serde(skip)]
    pub kind: SourceKind,
}

fn yes() -> bool {
    true
}

fn default_encoder() -> String {
    "copy".to_string()
}

/// The kind of camera a `source` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    #[default]
    Rtsp,
    V4l2,
    Test,
}

impl SourceKind {
    pub fn of(source: &SensitiveUrl) -> Option<SourceKind> {
        match source.scheme().as_str() {
            "rtsp" | "rtsps" => Some(SourceKind::Rtsp),
            "v4l2" => Some(SourceKind::V4l2),
            "test" => Some(SourceKind::Test),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Rtsp => "rtsp",
            SourceKind::V4l2 => "v4l2",
            SourceKind::Test => "test",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioMode {
    #[default]
    Copy,
    Aac,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Clock-aligned: 600 starts segments at :00, :10, :20 …
    pub segment_seconds: u32,
    /// Fragmented MP4: at most this much is lost on a power cut.
    pub fragment_seconds: u32,
    /// The ffmpeg each camera records with when it copies (RTSP, `test:`, H.264 V4L2): the
    /// image ships a lean static build (`scripts/lean-ffmpeg.sh`). Cameras that encode, and
    /// clips, snapshots and the relay, use `ffmpeg` from PATH.
    pub ffmpeg: String,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            segment_seconds: 600,
            fragment_seconds: 1,
            ffmpeg: "ffmpeg".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    S3,
    Dir,
    #[default]
    None,
}

/// `crc32c`: `x-amz-checksum-crc32c` on every body (AWS S3, Garage, MinIO verify it; computed
/// in hardware). `md5`: `Content-MD5`, for servers that refuse the checksum headers
/// (Backblaze B2 answers "Unsupported header 'x-amz-checksum-crc32c'").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumMode {
    #[default]
    Crc32c,
    Md5,
}

/// How the bucket is named in request URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Addressing {
    /// Virtual-host style on AWS (path style for a bucket with dots over https, which the
    /// wildcard certificate cannot cover), path style everywhere else.
    #[default]
    Auto,
    /// `https://endpoint/bucket/key`: Garage, MinIO, s3s and most S3-compatible servers.
    Path,
    /// `https://bucket.endpoint/key`.
    Virtual,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    pub destination: Destination,
    /// Defaults to `https://s3.<region>.amazonaws.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token_file: Option<PathBuf>,
    pub key_template: String,
    pub part_size_mib: u32,
    pub concurrency: u32,
    /// Absent or "0": unlimited.
    pub bandwidth_limit: Bandwidth,
    /// rclone's `--bwlimit` timetable (`"08:00,512KiB/s 23:00,off"`, `"Mon-08:00,1M
    /// Sat-00:00,off"`), in local time; when set it decides the rate instead of
    /// `bandwidth_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_schedule: Option<super::schedule::Schedule>,
    pub storage_class: String,
    /// How each body's integrity is checked by the server.
    pub checksum: ChecksumMode,
    /// `AES256` or `aws:kms`; absent: none requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
    /// How long the presigned GET URLs in `clip.ready` / `snapshot.ready` stay valid.
    pub presign_expiry_hours: u32,
    /// The folder for `destination = "dir"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    pub addressing: Addressing,
    /// PEM certificates trusted for the endpoint besides the system's (a private CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            destination: Destination::None,
            endpoint: None,
            region: "us-east-1".to_string(),
            bucket: None,
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            session_token: None,
            session_token_file: None,
            key_template: "{yyyy}/{mm}/{dd}/{camera}/{file}".to_string(),
            part_size_mib: 8,
            concurrency: 2,
            bandwidth_limit: Bandwidth::UNLIMITED,
            bandwidth_schedule: None,
            storage_class: "STANDARD".to_string(),
            checksum: ChecksumMode::Crc32c,
            server_side_encryption: None,
            presign_expiry_hours: 24,
            dir: None,
            addressing: Addressing::Auto,
            ca_file: None,
        }
    }
}

impl UploadConfig {
    pub fn effective_endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region))
    }
}

/// Bytes per second; 0 is unlimited. Written `"4MiB/s"`, `"500KiB/s"`, `"2MB/s"`,
/// `"16Mbit/s"` or rclone's `"4M"` (binary units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth(pub u64);

impl Bandwidth {
    pub const UNLIMITED: Bandwidth = Bandwidth(0);

    pub fn bytes_per_second(self) -> Option<u64> {
        (self.0 > 0).then_some(self.0)
    }
}

impl FromStr for Bandwidth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t.strip_suffix("/s").unwrap_or(t);
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a rate like \"4MiB/s\""))?;
        let mult: f64 = match unit.trim() {
            "" | "B" => 1.0,
            "K" | "KiB" | "k" => 1024.0,
            "M" | "MiB" => 1024.0 * 1024.0,
            "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "kbit" | "Kbit" => 1e3 / 8.0,
            "Mbit" => 1e6 / 8.0,
            "Gbit" => 1e9 / 8.0,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{s}` (use B, KiB, MiB, GiB, KB, MB, GB, kbit, Mbit, Gbit)"
                ));
            }
        };
        let bytes = value * mult;
        if !bytes.is_finite() || bytes > u64::MAX as f64 {
            return Err(format!("`{s}` is out of range"));
        }
        if bytes > 0.0 && bytes < 1024.0 {
            return Err(format!("`{s}` is below 1 KiB/s; use \"0\" for unlimited"));
        }
        Ok(Bandwidth(bytes as u64))
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("0"),
            b if b % (1024 * 1024) == 0 => write!(f, "{}MiB/s", b / (1024 * 1024)),
            b if b % 1024 == 0 => write!(f, "{}KiB/s", b / 1024),
            b => write!(f, "{b}B/s"),
        }
    }
}

impl Serialize for Bandwidth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rate;
        impl serde::de::Visitor<'_> for Rate {
            type Value = Bandwidth;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate like \"4MiB/s\", or 0 for unlimited")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Bandwidth, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Bandwidth, E> {
                match n {
                    0 => Ok(Bandwidth::UNLIMITED),
                    _ => Err(E::custom(
                        "give a rate with a unit, like \"4MiB/s\" (or 0 for unlimited)",
                    )),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Bandwidth, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(1))
            }
        }
        d.deserialize_any(Rate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDiskFull {
    #[default]
    DeleteOldest,
    StopRecording,
}

/// Seed 002's plans: days of continuous footage kept on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionPlan {
    Basic,
    Pro,
    Premium,
}

impl RetentionPlan {
    pub fn recordings_days(self) -> u32 {
        match self {
            RetentionPlan::Basic => 7,
            RetentionPlan::Pro => 15,
            RetentionPlan::Premium => 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Local copy kept this long after a verified upload.
    pub keep_uploaded_hours: u32,
    /// `basic` (7 days of recordings), `pro` (15) or `premium` (30); `recordings_days` wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<RetentionPlan>,
    /// Absent: the plan's, else 7. Read it through [`RetentionConfig::recordings_days`].
    #[serde(rename = "recordings_days", skip_serializing_if = "Option::is_none")]
    pub recordings_days_set: Option<u32>,
    pub snapshots_days: u32,
    pub clips_days: u32,
    pub disk_warn_percent: u8,
    pub disk_critical_percent: u8,
    pub on_disk_full: OnDiskFull,
}

impl RetentionConfig {
    /// Days of continuous footage: `recordings_days` if set, else the plan's, else 7.
    pub fn recordings_days(&self) -> u32 {
        self.recordings_days_set
            .or(self.plan.map(RetentionPlan::recordings_days))
            .unwrap_or(7)
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            keep_uploaded_hours: 24,
            plan: None,
            recordings_days_set: None,
            snapshots_days: 30,
            clips_days: 90,
            disk_warn_percent: 80,
            disk_critical_percent: 90,
            on_disk_full: OnDiskFull::DeleteOldest,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `mqtt://` or `mqtts://`, optionally with `user:password@`; absent: MQTT off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<SensitiveUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// CA certificate(s) for `mqtts://`; absent: the system bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// Private key of the client certificate: must be mode 0600 like any secret file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
    pub topic_prefix: String,
    pub health_interval_seconds: u32,
    pub ha_discovery: bool,
    /// A preview picture of each camera for Home Assistant's camera entity, taken when the
    /// camera starts recording and this often while it records; 0 = none. Published, not
    /// uploaded.
    pub snapshot_interval_seconds: u32,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: None,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            topic_prefix: "camvault".to_string(),
            health_interval_seconds: 30,
            ha_discovery: true,
            snapshot_interval_seconds: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    pub enabled: bool,
    /// Defaults to `<data_dir>/inbox`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch_dir: Option<PathBuf>,
    /// `rtmp://` or `rtmps://`; the stream key in it is a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_url: Option<SensitiveUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_url_file: Option<PathBuf>,
    pub min_file_age_seconds: u32,
    pub scan_interval_seconds: u32,
    pub max_retries: u32,
    pub retry_delay_seconds: u32,
    /// Catch-up after a stop: files starting this long or more before the newest file are
    /// skipped (deleted), so the stream returns to "almost live". 0 sends every file.
    pub max_lag_seconds: u32,
    /// Files in `_failed/` and non-video files in the inbox are deleted this many days after
    /// they last changed, so the inbox cannot fill the card.
    pub keep_failed_days: u32,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            enabled: false,
            watch_dir: None,
            rtmp_url: None,
            rtmp_url_file: None,
            min_file_age_seconds: 30,
            scan_interval_seconds: 5,
            max_retries: 3,
            retry_delay_seconds: 300,
            max_lag_seconds: 300,
            keep_failed_days: 7,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FtpConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub passive_ports: PortRange,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<FtpUser>,
    /// FTPS (explicit TLS): a PEM certificate chain and its private key; both or neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<PathBuf>,
}

impl Default for FtpConfig {
    fn default() -> Self {
        FtpConfig {
            enabled: false,
            listen: SocketAddr::from(([0, 0, 0, 0], 2121)),
            passive_ports: PortRange {
                first: 50000,
                last: 50100,
            },
            users: Vec::new(),
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpUser {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// An inclusive port range, written `"50000-50100"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a port range like \"50000-50100\"");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return Err(format!(
                "`{s}`: the range must be non-empty and start above 0"
            ));
        }
        Ok(PortRange { first, last })
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}-{}", self.first, self.last))
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtaConfig {
    /// The X.509 certificate(s) (PEM) RAUC bundles must be signed under.
    pub keyring: PathBuf,
    /// How long a new slot has to prove itself (recording, MQTT, uploads) before it is
    /// rolled back.
    pub commit_timeout_minutes: u32,
    /// Accept a bundle whose version is not newer (never one below the security epoch).
    pub allow_downgrade: bool,
}

impl Default for OtaConfig {
    fn default() -> Self {
        OtaConfig {
            keyring: PathBuf::from("/etc/camvault/ota-keyring.pem"),
            commit_timeout_minutes: 10,
            allow_downgrade: false,
        }
    }
}

/// Finding cameras on the LAN and being found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// ONVIF credentials for asking found cameras their stream URIs (GetProfiles,
    /// GetStreamUri); without them `discover` lists cameras without streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onvif_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onvif_password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onvif_password_file: Option<PathBuf>,
    /// How long `discover` listens for WS-Discovery and mDNS answers.
    pub probe_seconds: u32,
    /// Announce the device over mDNS/DNS-SD (`_camvault._tcp`, and `_http._tcp` with `[http]`).
    pub announce: bool,
    /// Which found cameras start recording by themselves, under generated names.
    pub auto_record: AutoRecord,
}

/// `[discovery] auto_record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoRecord {
    Off,
    /// Cameras plugged into the device (a USB webcam, a CSI camera's V4L2 node).
    #[default]
    V4l2,
    /// Those and ONVIF cameras on the LAN (their stream needs the ONVIF credentials).
    All,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            onvif_username: None,
            onvif_password: None,
            onvif_password_file: None,
            probe_seconds: 3,
            announce: true,
            auto_record: AutoRecord::default(),
        }
    }
}

/// The local status page and Prometheus metrics (read-only, basic auth).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `0.0.0.0:8080`; absent = no HTTP listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Generated (20 random characters, 0600) on first start when neither this nor
    /// `password` is given: `<data_dir>/http.secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// HTTPS, with `tls_cert_file`/`tls_key_file` or else a self-signed certificate made on
    /// first start (`<data_dir>/http.crt`, `http.key`).
    pub tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<PathBuf>,
}

impl HttpConfig {
    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: None,
            username: "admin".to_string(),
            password: None,
            password_file: None,
            tls: false,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, or `camvault::store=debug,info`. `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_units() {
        let mib = 1024 * 1024;
        assert_eq!("4MiB/s".parse::<Bandwidth>().unwrap().0, 4 * mib);
        assert_eq!("4M".parse::<Bandwidth>().unwrap().0, 4 * mib);
        assert_eq!("500KiB/s".parse::<Bandwidth>().unwrap().0, 500 * 1024);
        assert_eq!("2MB/s".parse::<Bandwidth>().unwrap().0, 2_000_000);
        assert_eq!("16Mbit/s".parse::<Bandwidth>().unwrap().0, 2_000_000);
        assert_eq!("0".parse::<Bandwidth>().unwrap(), Bandwidth::UNLIMITED);
        assert!("fast".parse::<Bandwidth>().is_err());
        assert!("4 parsecs".parse::<Bandwidth>().is_err());
        assert!("10B/s".parse::<Bandwidth>().is_err());
        assert_eq!(Bandwidth(4 * mib).to_string(), "4MiB/s");
    }

    #[test]
    fn port_ranges() {
        let r: PortRange = "50000-50100".parse().unwrap();
        assert_eq!((r.first, r.last), (50000, 50100));
        assert!("50100-50000".parse::<PortRange>().is_err());
        assert!("0-10".parse::<PortRange>().is_err());
        assert!("5000".parse::<PortRange>().is_err());
    }
}
