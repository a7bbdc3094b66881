//! Amazon SNS's HTTP envelope, which Amazon SES and Scaleway's Topics and Events both post:
//! `Type` says whether `Message` carries a notification or the envelope is a subscription's
//! (un)confirmation, whose `SubscribeURL` and `TopicArn` become the normalized control.
//! See <https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html>.

use std::borrow::Cow;

use super::json::object::Object;
use crate::error::Error;
use crate::{Control, ControlKind};

/// Read the envelope `o` into `out`: a `Notification` goes to `notification` (which reads
/// `Message` its own way), a confirmation becomes `out.control`.
///
/// # Errors
/// `invalid_value` at `$.Type` for any other type; what `notification` returns.
pub(super) fn envelope(
    o: &Object<'_>,
    out: &mut crate::Normalized,
    notification: impl FnOnce(&Object<'_>, &mut crate::Normalized) -> Result<(), Error>,
) -> Result<(), Error> {
    let kind = o.string("Type")?.unwrap_or_default();
    let control = |kind| -> Result<Control, Error> {
        Ok(Control {
            kind,
            url: o.string("SubscribeURL")?.map(Cow::into_owned),
            detail: o.string("TopicArn")?.map(Cow::into_owned),
        })
    };
    match kind.as_ref() {
        "Notification" => notification(o, out)?,
        "SubscriptionConfirmation" => {
            out.control = Some(control(ControlKind::SubscriptionConfirmation)?);
        }
        "UnsubscribeConfirmation" => {
            out.control = Some(control(ControlKind::UnsubscribeConfirmation)?);
        }
        other => {
            return Err(Error::invalid(
                "$.Type",
                format!(
                    "expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation, found {other:?}"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_notification_goes_to_the_caller_and_a_confirmation_becomes_control() {
        let o = Object::parse(r#"{"Type":"Notification","Message":"m"}"#, "$").unwrap();
        let mut out = crate::Normalized::default();
        let mut called = false;
        envelope(&o, &mut out, |_, _| {
            called = true;
            Ok(())
        })
        .unwrap();
        assert!(called && out.control.is_none());

        let o = Object::parse(
            r#"{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.example/c","TopicArn":"arn:t"}"#,
            "$",
        )
        .unwrap();
        envelope(&o, &mut out, |_, _| panic!("not a notification")).unwrap();
        let control = out.control.unwrap();
        assert_eq!(control.kind, ControlKind::SubscriptionConfirmation);
        assert_eq!(control.url.as_deref(), Some("https://sns.example/c"));
        assert_eq!(control.detail.as_deref(), Some("arn:t"));
    }

    #[test]
    fn another_type_is_an_invalid_value_at_type_naming_what_it_found() {
        let o = Object::parse(r#"{"Type":"Bogus"}"#, "$").unwrap();
        let err = envelope(&o, &mut crate::Normalized::default(), |_, _| Ok(())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        assert_eq!(err.path(), Some("$.Type"));
        assert!(err.to_string().contains("found \"Bogus\""), "{err}");
    }
}
