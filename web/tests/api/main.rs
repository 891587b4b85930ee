//! End-to-end tests of the API: the real server on 127.0.0.1:0 with a temporary data
//! directory and a manual clock, reqwest as the client.

mod helpers;
mod routes;

mod admin;
mod approval;
mod audit;
mod authz;
mod backup;
mod cap;
mod channels;
mod cli;
mod connections;
mod demo;
mod device;
mod errors;
mod feeds;
mod instants;
mod jobs;
mod matrix;
mod media;
mod metrics;
mod nodes;
mod openapi;
mod pages;
mod places;
mod programmes;
mod remote;
mod reports;
mod router;
mod schedules;
mod security;
mod sign_in;
mod store;
mod throttle;
mod tls;
mod urgent;
mod urgent_text;
