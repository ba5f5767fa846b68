//! Property tests of the RPC payload parser (`protocol.md` §9.1): any payload parses or is
//! refused without a panic, exactly the well-formed ones parse, and payloads built by the spec's
//! layout parse back to their parts.

use elbus::frame::encode_delivery;
use elbus::rpc::{RpcEvent, RpcEventKind};
use elbus::{Frame, FrameKind};
use proptest::prelude::*;

fn message(payload: &[u8]) -> Frame {
    let wire = encode_delivery(FrameKind::Message, "caller%%1", None, &[payload], false).unwrap();
    Frame::from_wire(wire).unwrap()
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

/// A method name as sent: any bytes but NUL.
fn method() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_and_accepts_exactly_the_well_formed(
        first in prop::sample::select(&[0x00u8, 0x01, 0x11, 0x12, 0x02, 0xFF][..]),
        rest in prop::collection::vec(prop_oneof![3 => any::<u8>(), 1 => Just(0u8)], 0..16),
    ) {
        let payload = [&[first][..], &rest].concat();
        let well_formed = match first {
            0x00 => true,
            0x01 => payload.len() >= 6 && payload[5..].contains(&0),
            0x11 => payload.len() >= 5,
            0x12 => payload.len() >= 7,
            _ => false,
        };
        let parsed = RpcEvent::parse(message(&payload));
        prop_assert_eq!(parsed.is_ok(), well_formed, "{:02X?}", payload);
        // Only one-to-one messages carry RPC.
        let wire = encode_delivery(FrameKind::Broadcast, "b", None, &[&payload], false).unwrap();
        prop_assert!(RpcEvent::parse(Frame::from_wire(wire).unwrap()).is_err());
    }

    #[test]
    fn requests_round_trip(id in any::<u32>(), method in method(), params in data()) {
        let payload = [&[0x01][..], &id.to_le_bytes(), &method, &[0], &params].concat();
        let event = RpcEvent::parse(message(&payload)).unwrap();
        prop_assert_eq!(event.kind(), RpcEventKind::Request);
        prop_assert_eq!(event.id(), id);
        prop_assert_eq!(event.method(), &method[..]);
        prop_assert_eq!(event.payload(), &params[..]);
        prop_assert_eq!(event.is_response_required(), id != 0);
        prop_assert_eq!(event.sender(), "caller%%1");
        prop_assert_eq!(event.primary_sender(), "caller");
    }

    #[test]
    fn replies_errors_and_notifications_round_trip(id in any::<u32>(), code in any::<i16>(), data in data()) {
        let reply = RpcEvent::parse(message(&[&[0x11][..], &id.to_le_bytes(), &data].concat())).unwrap();
        prop_assert_eq!((reply.kind(), reply.id(), reply.payload()), (RpcEventKind::Reply, id, &data[..]));
        prop_assert!(reply.to_error().is_none());
        let error = RpcEvent::parse(message(
            &[&[0x12][..], &id.to_le_bytes(), &code.to_le_bytes(), &data].concat(),
        )).unwrap();
        prop_assert_eq!((error.kind(), error.id(), error.code()), (RpcEventKind::ErrorReply, id, code));
        prop_assert_eq!(error.payload(), &data[..]);
        let err = error.to_error().unwrap();
        prop_assert_eq!(err.code(), code);
        let note = RpcEvent::parse(message(&[&[0x00][..], &data].concat())).unwrap();
        prop_assert_eq!((note.kind(), note.id(), note.payload()), (RpcEventKind::Notification, 0, &data[..]));
    }
}
