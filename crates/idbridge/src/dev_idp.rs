//! `idbridge dev-idp`: runs the test identity provider of `idbridge-dev-idp`, or
//! (`dev-idp provision`) pushes a sample directory into a tenant over SCIM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use idbridge_dev_idp::{DevIdp, Identity, OidcClients, ProvisionOptions};

use crate::cli::{CommonArgs, DevIdpArgs, DevIdpCommand, given_on_command_line};

/// Where the dev IdP listens unless `--listen` is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9090";

pub async fn run(common: &CommonArgs, args: DevIdpArgs) -> anyhow::Result<()> {
    match args.command {
        Some(DevIdpCommand::Provision(provision)) => {
            let options = ProvisionOptions {
                scim_url: provision.scim_url,
                token: provision.token,
                users: provision.users,
                groups: provision.groups,
                domain: provision.domain,
            };
            let mut out = std::io::stdout().lock();
            idbridge_dev_idp::provision(&options, &mut out)
                .await
                .context("provisioning failed")?;
            Ok(())
        }
        None => serve(common, args).await,
    }
}

async fn serve(common: &CommonArgs, args: DevIdpArgs) -> anyhow::Result<()> {
    // `--listen` and `--public-url` are the global flags; their defaults and their
    // IDBRIDGE_* variables are `serve`'s, so the dev IdP takes them only from its
    // command line.
    let listen: SocketAddr = if given_on_command_line("listen") {
        common.listen
    } else {
        DEFAULT_LISTEN
            .parse()
            .context("the default listen address")?
    };
    let public_url = if given_on_command_line("public_url") {
        common.public_url.clone()
    } else {
        None
    };
    eprintln!("WARNING: {}", idbridge_dev_idp::WARNING);
    tracing::warn!("{}", idbridge_dev_idp::WARNING);
    idbridge_dev_idp::check_listen(listen, args.allow_non_loopback)?;
    if args.allow_non_loopback && !listen.ip().is_loopback() {
        tracing::warn!(%listen, "--allow-non-loopback: anyone who reaches this address can sign in as anyone");
    }
    let state_dir = args
        .state_dir
        .unwrap_or_else(idbridge_dev_idp::default_state_dir);
    let (identity, created) = Identity::load_or_create(&state_dir)?;
    if created {
        tracing::info!(state_dir = %state_dir.display(), "made a new signing key and certificate");
    } else {
        tracing::info!(state_dir = %state_dir.display(), "using the signing key and certificate kept here");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr().context("the bound address")?;
    let public_url = public_url.unwrap_or_else(|| format!("http://{bound}"));
    let clients = OidcClients {
        client_id: args
            .oidc_client_id
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty()),
        client_secret: args.oidc_client_secret,
    };
    let idp = DevIdp::with_oidc_clients(
        identity,
        &public_url,
        Arc::new(time::OffsetDateTime::now_utc),
        clients,
    )?;
    eprintln!("dev IdP listening on http://{bound}");
    for flavor in idbridge_dev_idp::Flavor::ALL {
        eprintln!(
            "  {} metadata: {}/metadata?flavor={}",
            flavor.label(),
            idp.public_url(),
            flavor.as_str()
        );
    }
    eprintln!(
        "  OpenID Connect issuer: {} (client_id: {}; client secret: {})",
        idp.issuer(),
        idp.oidc_clients().client_id.as_deref().unwrap_or("any"),
        if idp.oidc_clients().client_secret == idbridge_dev_idp::DEFAULT_CLIENT_SECRET {
            idbridge_dev_idp::DEFAULT_CLIENT_SECRET
        } else {
            "the one given with --oidc-client-secret"
        }
    );
    eprintln!("  keys kept in {}", state_dir.display());
    idp.serve(listener, shutdown())
        .await
        .context("the dev IdP server failed")
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
