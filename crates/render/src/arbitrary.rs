//! Generated JSON values for the property tests of the emitter and the splicer:
//! scalars of every type, strings full of YAML indicators, nested lists and mappings.

use proptest::prelude::*;
use serde_json::{Value, json};

pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        "\\PC{0,12}".prop_map(Value::String),
        "[a-z0-9 :#'\"\\-.{}\\[\\]\n\t]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z0-9 ./:-]{0,8}", inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}
