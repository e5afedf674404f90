use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if let Err(e) = crm_server::config::load_config_file() {
        eprintln!("error: {e}");
        return std::process::ExitCode::from(2);
    }
    let cli = crm_server::cli::Cli::parse();
    let _otel =
        crm_server::cli::init_tracing(cli.log_format, &cli.log, cli.otlp_endpoint.as_deref());
    crm_server::alloc::init();
    match crm_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
