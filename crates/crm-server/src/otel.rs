//! Optional OpenTelemetry tracing: with `CRM_OTLP_ENDPOINT` set, the spans
//! of HTTP requests (with their request id), jobs and Meta Graph calls are
//! exported over OTLP/HTTP (protobuf) to a collector, in batches from a
//! background thread. Unset (the default), no exporter exists and nothing
//! else is created: the spans are the ones the log already has.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Keeps the exporter alive; flushes the spans still queued when dropped.
pub struct OtelGuard {
    provider: SdkTracerProvider,
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("could not flush the last OpenTelemetry spans: {e}");
        }
    }
}

/// The endpoint as OTLP/HTTP wants it: the collector's base URL
/// (`http://collector:4318`) gets `/v1/traces`; a full traces URL is kept.
pub fn traces_url(endpoint: &str) -> String {
    let e = endpoint.trim_end_matches('/');
    if e.ends_with("/v1/traces") {
        e.to_owned()
    } else {
        format!("{e}/v1/traces")
    }
}

/// Builds the exporter and the tracer provider for `endpoint`.
pub fn provider(endpoint: &str) -> anyhow::Result<(OtelGuard, opentelemetry_sdk::trace::Tracer)> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("crm-ventas").build())
        .build();
    let tracer = provider.tracer("crm-ventas");
    Ok((OtelGuard { provider }, tracer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
