//! Topic routing (`fleet::topics`): a root, a device id and a topic, all chosen by the fuzzer.
//! The checks:
//!
//! - `Topics::new` takes exactly the roots `check_root` takes and the ids `is_valid_id` takes;
//! - a topic that routes is the very topic the route builds again, so no second spelling (an
//!   extra level, another device, a wildcard) reaches a route;
//! - every topic the device builds from valid ids routes back to what it was built from;
//! - `state_device` finds a device only in its exact state topic.

use praxiskiosk::fleet::topics::{check_root, state_device};
use praxiskiosk::fleet::{Route, Side, Topics};
use praxiskiosk::wire::is_valid_id;

use super::Script;

fn rebuilt(topics: &Topics, route: &Route) -> String {
    match route {
        Route::Config => topics.config(),
        Route::Appointment(id) => topics.appointment(id),
        Route::State => topics.state(),
        Route::Events => topics.events(),
        Route::Command => topics.commands(),
        Route::Sync => topics.sync(),
        Route::Session { session, side } => topics.session(session, *side),
    }
}

pub fn check(data: &[u8]) {
    let mut script = Script::new(data);
    let root = script.text();
    let device = script.text();
    let id = script.text();
    let topic = String::from_utf8_lossy(script.rest()).into_owned();

    let topics = Topics::new(&root, &device);
    assert_eq!(
        topics.is_ok(),
        check_root(&root).is_ok() && is_valid_id(&device),
        "root {root:?}, device {device:?}"
    );
    if let Some(found) = state_device(&root, &topic) {
        assert!(is_valid_id(found));
        assert_eq!(format!("{root}/devices/{found}/state"), topic);
    }
    let Ok(topics) = topics else {
        return;
    };
    if let Some(route) = topics.route(&topic) {
        assert_eq!(rebuilt(&topics, &route), topic, "{route:?}");
    }
    for route in [
        Route::Config,
        Route::State,
        Route::Events,
        Route::Command,
        Route::Sync,
    ] {
        assert_eq!(topics.route(&rebuilt(&topics, &route)), Some(route));
    }
    if is_valid_id(&id) {
        for route in [
            Route::Appointment(id.clone()),
            Route::Session {
                session: id.clone(),
                side: Side::Kiosk,
            },
            Route::Session {
                session: id.clone(),
                side: Side::Doctor,
            },
        ] {
            let built = rebuilt(&topics, &route);
            assert_eq!(topics.route(&built), Some(route));
            assert_eq!(state_device(&root, &built), None);
        }
    }
}
