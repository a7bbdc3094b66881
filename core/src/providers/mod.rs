//! One module per provider (file name == slug); the formats that are not a provider's (`csv`,
//! `ndjson`, `form`); and what the providers share: reading JSON ([`json`]), times
//! ([`time`]), the text inside fields ([`text`]) and building events ([`fill`]).

pub(crate) use fill::{fill_in_place, new_event};
pub(crate) use json::body::{body_text, first_byte, parse_body, type_name, wrong_shape};
pub(crate) use json::object::one_or_many;
pub(crate) use text::{
    bare_address, bare_address_cow, clean_message_id, clean_message_id_cow, narrow,
};
pub(crate) use time::TimeUnit;

pub(crate) mod ahasend;
pub(crate) mod arf;
pub(crate) mod azure_acs;
pub(crate) mod brevo;
pub(crate) mod csv;
pub(crate) mod elastic_email;
pub(crate) mod fill;
pub(crate) mod form;
pub(crate) mod json;
pub(crate) mod loops;
pub(crate) mod mailersend;
pub(crate) mod mailgun;
pub(crate) mod mailjet;
pub(crate) mod mailtrap;
pub(crate) mod mandrill;
pub(crate) mod ndjson;
pub(crate) mod postal;
pub(crate) mod postmark;
pub(crate) mod resend;
pub(crate) mod scaleway;
pub(crate) mod sendgrid;
pub(crate) mod ses;
pub(crate) mod ses_eventbridge;
pub(crate) mod smtp2go;
mod sns;
pub(crate) mod sparkpost;
pub(crate) mod text;
pub(crate) mod time;
pub(crate) mod unisender_go;
pub(crate) mod zeptomail;
