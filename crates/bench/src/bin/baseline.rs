//! The baseline: a minimal actix-web server answering a fixed ~400-byte JSON body from memory on
//! every GET, with as many workers as Parley uses. What this machine can serve at all.

use actix_web::{web, App, HttpResponse, HttpServer};
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18081")]
    listen: String,
    /// 0 = one per core, like Parley's default.
    #[arg(long, default_value_t = 0)]
    workers: usize,
}

const BODY: &str = r#"{"id":"order_fc_491731","subject":"Black leather boots","topicId":null,"photoUrl":"https://example.com/productpictures/454545.png","welcomeMessages":["Hello there!"],"custom":{"productId":"454545"},"participants":{"123456":{"access":"ReadWrite","notify":true,"isUnread":false},"654321":{"access":"Read","notify":"MentionsOnly","isUnread":false}},"lastMessage":null,"createdAt":1623926680929,"pad":"xxxxxxxxxxxx"}"#;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(BODY)
        }))
    });
    if args.workers > 0 {
        server = server.workers(args.workers);
    }
    println!("baseline body bytes={}", BODY.len());
    server.bind(&args.listen)?.run().await
}
