// The request-metrics signal from Rust with gstreamer-rs (not built or run
// by the tests; the C and Python examples beside it are).
fn request_metrics() -> Option<String> {
    let metrics: Option<String> = gst::active_tracers()
        .into_iter()
        .find(|t| glib::subclass::signal::SignalId::lookup("request-metrics", t.type_()).is_some())
        .and_then(|t| t.emit_by_name::<Option<String>>("request-metrics", &[]));
    metrics
}
