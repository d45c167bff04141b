//! Logging: `tracing` to stderr, filtered by `RUST_LOG` or else `log.filter`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Fails only when a subscriber is set already (several servers in one test binary).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .try_init();
}

/// Query parameters whose values are secrets (bearer tokens, media URL signatures): logged as
/// `[redacted]`.
const SECRET_PARAMS: [&str; 3] = ["token", "access_token", "sig"];

/// A request target (`/path?query`) with the values of `SECRET_PARAMS` replaced, for logs.
pub fn redact_target(target: &str) -> std::borrow::Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return target.into();
    };
    let secret = |kv: &str| {
        let name = kv.split('=').next().unwrap_or_default();
        SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
    };
    if !query.split('&').any(secret) {
        return target.into();
    }
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((name, _)) if secret(kv) => format!("{name}=[redacted]"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&")).into()
}

/// The root span of every HTTP request: `tracing-actix-web`'s fields, with secrets in the
/// query string redacted (see [`redact_target`]).
pub struct RedactedRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let target = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redact_target(target),
            http.client_ip = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::redact_target;

    #[test]
    fn tokens_and_signatures_are_redacted_from_logged_targets() {
        assert_eq!(
            redact_target("/ws?token=abc&format=msgpack"),
            "/ws?token=[redacted]&format=msgpack"
        );
        assert_eq!(
            redact_target("/media/1/content?exp=5&sig=xyz"),
            "/media/1/content?exp=5&sig=[redacted]"
        );
        assert_eq!(redact_target("/api/me?TOKEN=a"), "/api/me?TOKEN=[redacted]");
        assert_eq!(redact_target("/api/rooms?limit=5"), "/api/rooms?limit=5");
        assert_eq!(redact_target("/api/tokens"), "/api/tokens");
    }
}
