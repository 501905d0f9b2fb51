//! Counting AWS calls, for benchmarks: with `ALTA_MEASURE_AWS_CALLS=1`, every DynamoDB and
//! Secrets Manager call is recorded (operation, start and end, DynamoDB's consumed
//! capacity, which the calls then ask for), and each request's log line carries them: how
//! many of each operation, in how many sequential rounds, and the read and write units.
//! Off, nothing is recorded and no request changes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Map, Value, json};

static ENABLED: AtomicBool = AtomicBool::new(false);
static CALLS: Mutex<Vec<Call>> = Mutex::new(Vec::new());

/// Turns counting on (the functions call this when `ALTA_MEASURE_AWS_CALLS` is set).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Records a call made outside the SDK (the mcp function's JWKS fetch), when counting.
pub fn record(operation: &str, started: Instant) {
    if !enabled() {
        return;
    }
    if let Ok(mut calls) = CALLS.lock() {
        calls.push(Call {
            operation: operation.to_owned(),
            started,
            ended: Instant::now(),
            read_units: 0.0,
            write_units: 0.0,
        });
    }
}

#[derive(Debug, Clone)]
struct Call {
    operation: String,
    started: Instant,
    ended: Instant,
    read_units: f64,
    write_units: f64,
}

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone, Default)]
struct Consumed(f64, f64);

impl Storable for Consumed {
    type Storer = StoreReplace<Self>;
}

/// The calls since the last summary: `{"calls": {"DynamoDB.GetItem": 2, …}, "rounds": n,
/// "read_units": r, "write_units": w, "wait_ms": t}` (t: the wall time with a call in
/// flight), or `None` when nothing is counted. A round is a
/// group of calls in flight together: a call that starts after every earlier one ended
/// starts a new round.
pub fn take_summary() -> Option<Value> {
    if !enabled() {
        return None;
    }
    let mut calls = std::mem::take(&mut *CALLS.lock().ok()?);
    calls.sort_by_key(|c| c.started);
    let mut counts = Map::new();
    let (mut rounds, mut round_end, mut read, mut write) = (0, None, 0.0, 0.0);
    // Wall time with at least one call in flight: what the request spent waiting on AWS.
    let (mut waited, mut covered_until) = (std::time::Duration::ZERO, None::<Instant>);
    for call in &calls {
        let from = covered_until.map_or(call.started, |until| until.max(call.started));
        if call.ended > from {
            waited += call.ended - from;
            covered_until = Some(call.ended);
        }
        let n = counts
            .entry(call.operation.clone())
            .or_insert(json!(0))
            .as_u64()
            .unwrap_or(0);
        counts.insert(call.operation.clone(), json!(n + 1));
        if round_end.is_none_or(|end| call.started >= end) {
            rounds += 1;
            round_end = Some(call.ended);
        } else if round_end.is_some_and(|end| call.ended > end) {
            round_end = Some(call.ended);
        }
        read += call.read_units;
        write += call.write_units;
    }
    Some(json!({
        "calls": counts,
        "rounds": rounds,
        "read_units": read,
        "write_units": write,
        "wait_ms": waited.as_secs_f64() * 1000.0,
    }))
}

/// The interceptor both SDK clients get when counting is on.
#[derive(Debug)]
pub struct CallCounter;

/// Adds a call's consumed capacity; `write` says what a total without a read/write split
/// (DynamoDB's answer for a table without indexes, and dynalite's) counts as.
fn add(consumed: &mut Consumed, capacity: Option<&ConsumedCapacity>, write: bool) {
    if let Some(c) = capacity {
        match (c.read_capacity_units(), c.write_capacity_units()) {
            (None, None) if write => consumed.1 += c.capacity_units().unwrap_or_default(),
            (None, None) => consumed.0 += c.capacity_units().unwrap_or_default(),
            (read, write) => {
                consumed.0 += read.unwrap_or_default();
                consumed.1 += write.unwrap_or_default();
            }
        }
    }
}

/// Runs `$body` with `$input` bound to the DynamoDB input type it is, for each operation
/// the stores use.
macro_rules! each_input {
    ($boxed:expr, |$input:ident| $body:expr) => {{
        use aws_sdk_dynamodb::operation::*;
        if let Some($input) = $boxed.downcast_mut::<get_item::GetItemInput>() {
            $body
        } else if let Some($input) = $boxed.downcast_mut::<put_item::PutItemInput>() {
            $body
        } else if let Some($input) = $boxed.downcast_mut::<update_item::UpdateItemInput>() {
            $body
        } else if let Some($input) = $boxed.downcast_mut::<delete_item::DeleteItemInput>() {
            $body
        } else if let Some($input) = $boxed.downcast_mut::<query::QueryInput>() {
            $body
        } else if let Some($input) = $boxed.downcast_mut::<batch_get_item::BatchGetItemInput>() {
            $body
        } else if let Some($input) = $boxed.downcast_mut::<batch_write_item::BatchWriteItemInput>()
        {
            $body
        }
    }};
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "AwsCallCounter"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        each_input!(input, |input| {
            input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation::*;
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let mut consumed = Consumed::default();
        if let Some(o) = output.downcast_ref::<get_item::GetItemOutput>() {
            add(&mut consumed, o.consumed_capacity(), false);
        } else if let Some(o) = output.downcast_ref::<put_item::PutItemOutput>() {
            add(&mut consumed, o.consumed_capacity(), true);
        } else if let Some(o) = output.downcast_ref::<update_item::UpdateItemOutput>() {
            add(&mut consumed, o.consumed_capacity(), true);
        } else if let Some(o) = output.downcast_ref::<delete_item::DeleteItemOutput>() {
            add(&mut consumed, o.consumed_capacity(), true);
        } else if let Some(o) = output.downcast_ref::<query::QueryOutput>() {
            add(&mut consumed, o.consumed_capacity(), false);
        } else if let Some(o) = output.downcast_ref::<batch_get_item::BatchGetItemOutput>() {
            o.consumed_capacity()
                .iter()
                .for_each(|c| add(&mut consumed, Some(c), false));
        } else if let Some(o) = output.downcast_ref::<batch_write_item::BatchWriteItemOutput>() {
            o.consumed_capacity()
                .iter()
                .for_each(|c| add(&mut consumed, Some(c), true));
        }
        cfg.interceptor_state().store_put(consumed);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        let started = cfg.load::<Started>().map_or_else(Instant::now, |s| s.0);
        let Consumed(read_units, write_units) = cfg.load::<Consumed>().cloned().unwrap_or_default();
        if let Ok(mut calls) = CALLS.lock() {
            calls.push(Call {
                operation,
                started,
                ended: Instant::now(),
                read_units,
                write_units,
            });
        }
        Ok(())
    }
}
