//! The network side: one rumqttc event loop, reconnecting with backoff, re-subscribing and
//! re-announcing (availability, discovery, state) on every ConnAck.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{
    AsyncClient, Event, Incoming, LastWill, MqttOptions, QoS, TlsConfiguration, Transport,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::MqttError;
use super::discovery::{Discovery, Features};
use super::outbox::Outbox;
use super::topics::Topics;
use crate::base::Backoff;
use crate::config::Config;
use crate::control::{Command, Dispatcher, MAX_REQUEST_BYTES, Reply, Request};
use crate::health::board::Board;
use crate::health::{DeviceEvent, Health};
use crate::store::Store;

const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Commands handled at once; more are answered "busy".
const MAX_COMMANDS_IN_FLIGHT: usize = 16;
/// The longest a command may take: a clip of the longest pre- and post-roll waits for its
/// post-roll, plus time to cut it.
const COMMAND_DEADLINE: Duration =
    Duration::from_secs(2 * crate::control::command::MAX_CLIP_SIDE_S as u64 + 120);
/// Incoming packets up to this size are read (and refused if over the command limit) rather
/// than dropping the connection; the broker's `message_size_limit` should be lower.
const MAX_INCOMING_PACKET: usize = 8 * 1024 * 1024;
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn read(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, MqttError> {
    std::fs::read(path).map_err(|source| MqttError::File {
        what,
        path: path.display().to_string(),
        source,
    })
}

fn options(cfg: &Config, topics: &Topics) -> Result<MqttOptions, MqttError> {
    let m = &cfg.mqtt;
    let raw = m
        .url
        .as_ref()
        .ok_or_else(|| MqttError::Url("not set".into()))?;
    let url = url::Url::parse(raw.expose()).map_err(|e| MqttError::Url(e.to_string()))?;
    let tls = url.scheme() == "mqtts";
    let host = url
        .host_str()
        .ok_or_else(|| MqttError::Url("no host".into()))?;
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let mut o = MqttOptions::new(format!("camvault-{}", cfg.device.id), host, port);
    o.set_keep_alive(KEEP_ALIVE);
    o.set_clean_session(true);
    // Oversized commands are refused by us with a reply, not by the client with a disconnect.
    o.set_max_packet_size(MAX_INCOMING_PACKET, 4 * 1024 * 1024);
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let user = m.username.clone().unwrap_or_else(|| decode(url.username()));
    let pass = m
        .password
        .as_ref()
        .map(|p| p.expose().to_string())
        .or_else(|| url.password().map(decode))
        .unwrap_or_default();
    if !user.is_empty() {
        o.set_credentials(user, pass);
    }
    o.set_last_will(LastWill::new(
        topics.availability(),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    if tls {
        let ca = read(
            "mqtt.ca_file",
            m.ca_file
                .as_deref()
                .unwrap_or(std::path::Path::new(SYSTEM_CA_BUNDLE)),
        )?;
        let client_auth = match (&m.client_cert_file, &m.client_key_file) {
            (Some(c), Some(k)) => Some((
                read("mqtt.client_cert_file", c)?,
                read("mqtt.client_key_file", k)?,
            )),
            _ => None,
        };
        o.set_transport(Transport::Tls(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
    }
    Ok(o)
}

/// Counters worth a log line now and then.
#[derive(Default)]
struct Counters {
    commands_dropped: AtomicU64,
}

pub async fn run(
    cfg: Arc<Config>,
    dispatcher: Dispatcher,
    health: Health,
    store: Store,
    cancel: CancellationToken,
) -> Result<(), MqttError> {
    let topics = Topics::new(&cfg.mqtt.topic_prefix, &cfg.device.id);
    let (client, mut eventloop) = AsyncClient::new(options(&cfg, &topics)?, 1024);
    let mut outbox = Outbox::new(256);
    let mut connected = false;
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(4));
    let mut state_tick =
        tokio::time::interval(Duration::from_secs(cfg.mqtt.health_interval_seconds.into()));
    let mut changes = health.changes();
    let mut ota_status = health.ota();
    let mut events = health.events();
    let slots = Slots::default();
    let counters = Arc::new(Counters::default());
    let mut last_state = Instant::now() - Duration::from_secs(60);
    let mut last_error_log: Option<Instant> = None;
    let board = tokio::task::spawn_blocking(Board::read)
        .await
        .unwrap_or_default();
    // Each camera's newest picture (relative to data_dir), published again after every
    // reconnect: a broker restart must not leave Home Assistant without one.
    let mut images = previews_on_disk(&cfg).await;

    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    connected = true;
                    backoff.reset();
                    tracing::info!("mqtt: connected");
                    let _ = client.try_subscribe(topics.commands(), QoS::AtLeastOnce);
                    if dispatcher.ota().is_some() {
                        let _ = client.try_subscribe(topics.ota_latest(), QoS::AtLeastOnce);
                    }
                    // To put `online` back when another client claims we are offline.
                    let _ = client.try_subscribe(topics.availability(), QoS::AtLeastOnce);
                    let _ = client.try_publish(topics.availability(), QoS::AtLeastOnce, true, "online");
                    health.set_mqtt_online(true);
                    publish_ota(&client, &topics, &ota_status);
                    if cfg.mqtt.ha_discovery {
                        announce(&cfg, &topics, &client, &store, &board, dispatcher.ota().is_some()).await?;
                    }
                    for (camera, path) in &images {
                        publish_image(&cfg, &topics, &client, camera, path);
                    }
                    // Events that waited go out in order; the state is published fresh.
                    let (_, queued) = outbox.drain();
                    for e in queued {
                        let _ = client.try_publish(topics.event(), QoS::AtLeastOnce, false, e);
                    }
                    if let Some(status) = publish_state(&health, &client, &topics, &mut outbox, connected).await {
                        for (cam, c) in &status.cameras {
                            if let Some(end) = c.last_segment_end {
                                publish_last_segment(&client, &topics, cam, end);
                            }
                        }
                    }
                    last_state = Instant::now();
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    if p.topic == topics.availability() {
                        if connected && p.payload.as_ref() != b"online" {
                            tracing::warn!("mqtt: another client marked this device offline; correcting");
                            let _ = client.try_publish(topics.availability(), QoS::AtLeastOnce, true, "online");
                        }
                        continue;
                    }
                    if p.topic == topics.ota_latest() {
                        announced(&p.payload, &dispatcher);
                        continue;
                    }
                    let Some(name) = topics.command_name(&p.topic) else { continue };
                    if p.retain {
                        // A retained command would run again at every reconnect, for ever.
                        tracing::warn!(command = name, "mqtt: ignored a retained command");
                        refuse(name, "retained commands are never executed: publish without the retain flag", &client, &topics, &counters);
                        continue;
                    }
                    command(name, p.payload.to_vec(), &dispatcher, &client, &topics, &slots, &counters);
                }
                Ok(_) => {}
                Err(e) => {
                    if connected || last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                        tracing::warn!(error = %e, "mqtt: connection lost or refused; retrying");
                        last_error_log = Some(Instant::now());
                    }
                    connected = false;
                    health.set_mqtt_online(false);
                    let delay = backoff.next_delay();
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            },
            r = ota_status.changed() => {
                if r.is_ok() && connected {
                    publish_ota(&client, &topics, &ota_status);
                }
            }
            _ = state_tick.tick() => {
                publish_state(&health, &client, &topics, &mut outbox, connected).await;
                last_state = Instant::now();
            }
            r = changes.changed() => {
                if r.is_err() { continue; }
                // Publish significant changes at once, but not more than once a second.
                if last_state.elapsed() >= Duration::from_secs(1) {
                    publish_state(&health, &client, &topics, &mut outbox, connected).await;
                    last_state = Instant::now();
                }
            }
            ev = events.recv() => match ev {
                Ok(event) => {
                    if let (true, DeviceEvent::SegmentClosed { camera, end, .. }) = (connected, &event.event) {
                        publish_last_segment(&client, &topics, camera, *end);
                    }
                    if let DeviceEvent::SnapshotReady(snap) = &event.event {
                        images.insert(snap.camera.clone(), snap.path.clone());
                        if connected {
                            publish_image(&cfg, &topics, &client, &snap.camera, &snap.path);
                        }
                    }
                    let payload = serde_json::to_vec(&event).unwrap_or_default();
                    if !connected || client.try_publish(topics.event(), QoS::AtLeastOnce, false, payload.clone()).is_err() {
                        outbox.push_event(payload);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => outbox.dropped += n,
                Err(_) => {}
            },
        }
    }
    // Clean shutdown: say offline ourselves (the will is only for crashes), then leave.
    if connected {
        let _ = client.try_publish(topics.availability(), QoS::AtLeastOnce, true, "offline");
        let _ = client.try_disconnect();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, eventloop.poll()).await {
                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => {
                    break;
                }
                Ok(Ok(_)) => {}
            }
        }
    }
    let dropped = counters.commands_dropped.load(Ordering::Relaxed);
    if outbox.dropped > 0 || dropped > 0 {
        tracing::info!(
            events_dropped = outbox.dropped,
            commands_dropped = dropped,
            "mqtt: stopped"
        );
    }
    Ok(())
}

async fn announce(
    cfg: &Config,
    topics: &Topics,
    client: &AsyncClient,
    store: &Store,
    board: &Board,
    ota: bool,
) -> Result<(), MqttError> {
    let cameras: Vec<String> = cfg.cameras.iter().map(|c| c.name.clone()).collect();
    let retired: Vec<String> = store
        .read(|db| db.cameras())
        .await?
        .into_iter()
        .filter(|c| c.retired)
        .map(|c| c.name)
        .collect();
    let d = Discovery {
        device_id: &cfg.device.id,
        topics,
        board,
        features: Features {
            uploads: cfg.upload.destination != crate::config::Destination::None,
            relay: cfg.relay.enabled,
            ota,
            http_page: cfg.http.listen.map(|a| (cfg.http.scheme(), a.port())),
        },
    };
    for (topic, payload) in d.configs(&cameras, &retired) {
        if client
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
            .is_err()
        {
            tracing::warn!("mqtt: discovery configs did not fit the send queue");
            break;
        }
    }
    Ok(())
}

fn publish_last_segment(
    client: &AsyncClient,
    topics: &Topics,
    camera: &str,
    end: chrono::DateTime<chrono::Utc>,
) {
    let at = end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let _ = client.try_publish(topics.last_segment(camera), QoS::AtLeastOnce, true, at);
}

/// Publishes the state (or keeps it for the next connection); returns it.
async fn publish_state(
    health: &Health,
    client: &AsyncClient,
    topics: &Topics,
    outbox: &mut Outbox,
    connected: bool,
) -> Option<crate::health::Status> {
    let status = health.status().await.ok()?;
    let payload = serde_json::to_vec(&status).unwrap_or_default();
    if !connected
        || client
            .try_publish(topics.state(), QoS::AtLeastOnce, true, payload.clone())
            .is_err()
    {
        outbox.set_state(payload);
    }
    Some(status)
}

/// Commands in flight, in two pools.
struct Slots {
    quick: Arc<Semaphore>,
    media: Arc<Semaphore>,
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            quick: Arc::new(Semaphore::new(MAX_COMMANDS_IN_FLIGHT)),
            media: Arc::new(Semaphore::new(MAX_COMMANDS_IN_FLIGHT)),
        }
    }
}

/// An `ok: false` reply to a command that is not carried out.
fn refuse(name: &str, why: &str, client: &AsyncClient, topics: &Topics, counters: &Counters) {
    let reply = Reply::err(serde_json::Value::Null, why);
    send_reply(client, topics.reply(name), &reply, counters);
}

/// Queues a reply without waiting; one that does not fit the send queue is counted.
fn send_reply(client: &AsyncClient, topic: String, reply: &Reply, counters: &Counters) {
    let body = serde_json::to_vec(reply).unwrap_or_default();
    if client
        .try_publish(topic, QoS::AtLeastOnce, false, body)
        .is_err()
    {
        counters.commands_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// The retained `ota` state, when this device takes updates.
fn publish_ota(
    client: &AsyncClient,
    topics: &Topics,
    status: &tokio::sync::watch::Receiver<Option<crate::health::OtaStatus>>,
) {
    let body = match &*status.borrow() {
        Some(s) => serde_json::to_vec(s).unwrap_or_default(),
        None => return,
    };
    let _ = client.try_publish(topics.ota(), QoS::AtLeastOnce, true, body);
}

/// A release announcement on `ota/latest`: offered, never installed by itself.
fn announced(payload: &[u8], dispatcher: &Dispatcher) {
    let Some(ota) = dispatcher.ota() else { return };
    match serde_json::from_slice::<crate::ota::Offer>(payload) {
        Ok(offer) => match ota.announce(offer.clone()) {
            Ok(()) => tracing::info!(version = %offer.version, "mqtt: an update is on offer"),
            Err(e) => tracing::warn!(error = %e, "mqtt: ota/latest ignored"),
        },
        Err(e) => tracing::warn!(error = %e, "mqtt: ota/latest is not {{version, url, sha256}}"),
    }
}

/// Answers one command: bad ones at once, good ones in their own task so a slow command
/// never holds up the event loop. Each has a deadline, so no command holds a slot for ever.
fn command(
    name: &str,
    payload: Vec<u8>,
    dispatcher: &Dispatcher,
    client: &AsyncClient,
    topics: &Topics,
    slots: &Slots,
    counters: &Arc<Counters>,
) {
    let reply_topic = topics.reply(name);
    let send = |reply: &Reply| send_reply(client, reply_topic.clone(), reply, counters);
    if payload.len() > MAX_REQUEST_BYTES {
        send(&Reply::err(
            serde_json::Value::Null,
            format!("payload larger than {MAX_REQUEST_BYTES} bytes"),
        ));
        return;
    }
    let req = Request::decode_named(name, &payload);
    if let Err(e) = &req.command {
        send(&Reply::usage(req.request_id.clone(), e.clone()));
        return;
    }
    let pool = match &req.command {
        // Clips wait for their post-roll: they must not starve quick commands.
        Ok(Command::Clip(_) | Command::Snapshot(_)) => &slots.media,
        _ => &slots.quick,
    };
    let Ok(permit) = pool.clone().try_acquire_owned() else {
        send(&Reply::err(
            req.request_id,
            "busy: too many commands in flight",
        ));
        return;
    };
    let (dispatcher, client, counters) = (dispatcher.clone(), client.clone(), counters.clone());
    tokio::spawn(async move {
        let id = req.request_id.clone();
        let reply = tokio::time::timeout(COMMAND_DEADLINE, dispatcher.answer_request(req))
            .await
            .unwrap_or_else(|_| Reply::err(id, "timed out"));
        let body = serde_json::to_vec(&reply).unwrap_or_default();
        if client
            .publish(reply_topic, QoS::AtLeastOnce, false, body)
            .await
            .is_err()
        {
            counters.commands_dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(permit);
    });
}

/// The snapshot a `snapshot.ready` event names becomes the camera entity's retained image.
/// Read off the event loop: a JPEG of a few MiB must not hold up keep-alives.
fn publish_image(cfg: &Config, topics: &Topics, client: &AsyncClient, camera: &str, rel: &str) {
    let (topic, client, cam) = (topics.image(camera), client.clone(), camera.to_string());
    let path = cfg.device.data_dir.join(rel);
    tokio::spawn(async move {
        match tokio::fs::read(&path).await {
            Ok(jpeg) if jpeg.len() <= MAX_IMAGE_BYTES => {
                let _ = client.try_publish(topic, QoS::AtMostOnce, true, jpeg);
            }
            Ok(jpeg) => tracing::warn!(
                camera = %cam,
                bytes = jpeg.len(),
                "snapshot too large for the MQTT image topic"
            ),
            Err(e) => tracing::warn!(camera = %cam, error = %e, "snapshot unreadable for MQTT"),
        }
    });
}

/// The previews a previous run left, so the camera entities have a picture at once.
async fn previews_on_disk(cfg: &Config) -> BTreeMap<String, String> {
    let data = crate::base::DataDir::new(&cfg.device.data_dir);
    let mut found = BTreeMap::new();
    for cam in &cfg.cameras {
        let rel = crate::recorder::preview_path(&cam.name);
        if tokio::fs::metadata(data.join(&rel)).await.is_ok() {
            found.insert(cam.name.clone(), rel);
        }
    }
    found
}

/// Outgoing packets are capped (set_max_packet_size) a little above this.
const MAX_IMAGE_BYTES: usize = 3 * 1024 * 1024;
