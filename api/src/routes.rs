//! The route table.

mod root;

use actix_web::web;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    root::configure(cfg);
}
