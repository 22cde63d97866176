//! Start-up: opens the store, binds the listener, builds the router and runs until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{Settings, StorageSettings};
use crate::http;
use crate::service::{Clock, Policy, Service, SystemClock};
use crate::store;

/// A bound, ready-to-run server. Binding happens in [`Application::build`], so the port is known
/// (and accepting connections) before [`Application::run_until`] is called.
pub struct Application {
    listener: TcpListener,
    service: Service,
    router: axum::Router,
    url: String,
    setup_link: Option<String>,
    /// Tells live streams that the server is stopping.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Tells `/readyz` that the server is draining before it stops.
    draining: tokio::sync::watch::Sender<bool>,
    /// How long the server drains between the stop signal and the graceful shutdown.
    shutdown_drain: Duration,
    /// Possible-recurrence checks after capture, run beside the server.
    recurrence_checks: crate::service::memory::RecurrenceChecks,
}

/// Opens the store described by `storage`, migrating it.
pub async fn open_service(storage: &StorageSettings, policy: Policy) -> anyhow::Result<Service> {
    let store = store::connect_with_urls(
        storage.database_url.as_deref(),
        &store::PostgresUrls {
            direct: storage.database_direct_url.as_deref(),
            read: storage.database_read_url.as_deref(),
        },
        &storage.data_dir,
        &storage.sqlite,
    )
    .await
    .context("opening the database")?;
    Ok(Service::new(store, policy))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, std::sync::Arc::new(SystemClock)).await
    }

    /// Builds the server with the use cases reading `clock` (tests pass a
    /// [`SetClock`](crate::service::SetClock) to move time).
    pub async fn build_with_clock(
        settings: Settings,
        clock: std::sync::Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("listening on {}", settings.bind))?;
        let local = listener.local_addr()?;
        let url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", display_addr(local)));
        let policy = Policy {
            public_url: url.clone(),
            ..settings.policy.clone()
        };
        let sealer = crate::service::sealing::Sealer::from_secret(&settings.secret()?);
        let service = open_service(&settings.storage, policy)
            .await?
            .with_clock(clock)
            .with_sealer(sealer)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (service, recurrence_checks) = service.with_deferred_checks();
        let setup_link = service
            .prepare_setup_link()
            .await
            .map_err(|e| anyhow::anyhow!("preparing the set-up link: {e}"))?;
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let (draining, draining_rx) = tokio::sync::watch::channel(false);
        let router = http::router(
            http::AppState::new(
                service.clone(),
                url.starts_with("https://"),
                settings.trust_forwarded_for,
                stopping_rx,
            )
            .with_draining(draining_rx),
        );
        Ok(Self {
            listener,
            service,
            router,
            url,
            setup_link,
            stopping,
            draining,
            shutdown_drain: settings.shutdown_drain,
            recurrence_checks,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The base URL links are built from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The one-time link for creating the organisation, while none exists.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Serves until `shutdown` completes, then drains, then finishes in-flight requests.
    ///
    /// Draining: for `shutdown_drain_seconds` the server keeps serving everything while
    /// `/readyz` answers 503, so that a load balancer polling it takes this instance out of its
    /// list before it stops accepting connections; no request sent meanwhile is refused. Live
    /// streams end only when the graceful shutdown starts: their clients reconnect (through
    /// the balancer, to another instance) and read the current version there.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(sweep_periodically(self.service.clone()));
        let held_writer = tokio::spawn(write_held_periodically(self.service.clone()));
        let deliverer = tokio::spawn(crate::delivery::run(self.service.clone()));
        let service = self.service.clone();
        let checker = tokio::spawn(self.recurrence_checks.run(self.service.clone()));
        let stopping = self.stopping;
        let draining = self.draining;
        let drain = self.shutdown_drain;
        let result = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            if !drain.is_zero() {
                tracing::info!(seconds = drain.as_secs(), "draining: reading not ready");
                let _ = draining.send(true);
                tokio::time::sleep(drain).await;
            }
            // Live streams end first; otherwise they would hold the shutdown open forever.
            let _ = stopping.send(true);
        })
        .await;
        sweeper.abort();
        checker.abort();
        held_writer.abort();
        deliverer.abort();
        if let Err(error) = service.release_held().await {
            tracing::warn!(%error, "writing held anonymous contributions at stop failed");
        }
        result.context("serving HTTP")
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

fn display_addr(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

async fn sweep_periodically(service: Service) {
    let mut interval = tokio::time::interval(Duration::from_secs(600));
    loop {
        interval.tick().await;
        if let Err(error) = service.sweep().await {
            tracing::warn!(%error, "sweeping expired sessions failed");
        }
        if let Err(error) = service.raise_overdue_actions().await {
            tracing::warn!(%error, "recording overdue actions failed");
        }
        if let Err(error) = service.close_due_pulse_rounds().await {
            tracing::warn!(%error, "closing pulse rounds past their last day failed");
        }
        if let Err(error) = service.close_due_ritual_rounds().await {
            tracing::warn!(%error, "closing ritual rounds whose successor started failed");
        }
    }
}

/// Writes the anonymous contributions this instance holds once their moment has come elsewhere
/// (a round closed or a tier revealed by another instance, a round's last day over), and the
/// anonymous loops it holds once their UTC day is over.
async fn write_held_periodically(service: Service) {
    let mut interval = tokio::time::interval(HELD_WRITE_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(error) = service.write_due_answers().await {
            tracing::warn!(%error, "writing held pulse answers failed");
        }
        if let Err(error) = service.write_due_items().await {
            tracing::warn!(%error, "writing held sealed items failed");
        }
        if let Err(error) = service.write_due_loops().await {
            tracing::warn!(%error, "writing held anonymous loops failed");
        }
        if let Err(error) = service.write_due_ritual_shares().await {
            tracing::warn!(%error, "writing held ritual shares failed");
        }
    }
}

/// How soon another instance's close or reveal reaches the contributions this one holds.
pub const HELD_WRITE_INTERVAL: Duration = Duration::from_secs(15);

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
