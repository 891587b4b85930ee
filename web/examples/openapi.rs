//! Print the OpenAPI document the server serves at `/api/v1/openapi.json`, without a
//! server: `cargo run -p web --example openapi > openapi.json`.

fn main() {
    println!("{:#}", web::openapi::document());
}
