//! Run one Roboshop demo target: `cargo run -p edgeway-demo --example roboshop -- [ADDR] [ID]`.
//! Serves until Ctrl-C. Defaults: `127.0.0.1:8080`, id `roboshop-1`.

use edgeway_demo::DemoTarget;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let id = args.next().unwrap_or_else(|| "roboshop-1".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "Roboshop instance {id} on http://{}/",
        listener.local_addr()?
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    DemoTarget::new(id).serve(listener, shutdown).await
}
