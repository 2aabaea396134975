//! CloudWatch on its three wire protocols, one handler:
//!
//! | protocol | request | response |
//! |---|---|---|
//! | AWS JSON 1.0 (boto3, aws CLI v1) | `POST /`, `X-Amz-Target: GraniteServiceVersion20100801.<Op>` | JSON, times as epoch seconds |
//! | Query (older SDKs) | `POST /` form, `Action=<Op>&Version=2010-08-01` | XML in [`NAMESPACE`] |
//! | smithy rpc-v2-cbor (Go SDK v2) | `POST /service/GraniteServiceVersion20100801/operation/<Op>` | CBOR, times as tag 1 |
//!
//! Each request is decoded into a [`Doc`], [`operation`] maps it onto the service and
//! returns a [`Doc`] (or `None` for operations without output), and the protocol
//! encodes it. Errors go through `error::error_response` in the protocol's shape (JSON
//! and CBOR carry `x-amzn-query-error: <Code>;Sender`, which SDKs read as the code).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shoal_model::cloudwatch::alarm::{self as model_alarm, MetricDataQuery};
use shoal_model::cloudwatch::{
    AlarmState, ComparisonOperator, Dimension, HistoryItemType, MetricAlarm, MetricId, Samples,
    Statistic, StatisticSet, TreatMissingData,
};
use shoal_model::tags::Tag;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::document::{list, obj, Doc};
use super::error::{error_response, xml_body, Protocol};
use super::xml::Xml;
use crate::service::cloudwatch::{
    AlarmFilter, AlarmsForMetric, DataQuery, HistoryFilter, ListMetricsRequest, MetricDatum,
    MetricStat, StatisticsRequest,
};
use crate::service::Service;

/// The Query protocol's XML namespace.
pub const NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// `X-Amz-Target` prefix and CBOR service path segment.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// The Query `Version`.
pub const VERSION: &str = "2010-08-01";

/// Which of the three protocols a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Json,
    Query,
    Cbor,
}

impl Wire {
    fn protocol(self) -> Protocol {
        match self {
            Wire::Json => Protocol::Json,
            Wire::Query => Protocol::Query,
            Wire::Cbor => Protocol::Cbor,
        }
    }
}

/// Serves one CloudWatch request: `op` from the target, form or path; `input` decoded.
pub fn serve(
    svc: &Service,
    wire: Wire,
    op: &str,
    input: AwsResult<Doc>,
    request_id: &str,
) -> Response {
    let result = input.and_then(|doc| operation(svc, op, &doc));
    match result {
        Ok(output) => render(wire, op, output, request_id),
        Err(e) => {
            tracing::debug!(op, code = %e.code, message = %e.message, "cloudwatch request refused");
            error_response(&e, wire.protocol(), request_id)
        }
    }
}

/// Decodes an AWS JSON 1.0 body (`{}` when empty; too deep a body is refused).
pub fn decode_json(body: &Bytes) -> AwsResult<Doc> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Doc::Struct(vec![]));
    }
    super::document::check_json_depth(body)?;
    serde_json::from_slice::<serde_json::Value>(body).map(|v| Doc::from_json(&v)).map_err(|e| {
        AwsError::new(ErrorCode::SerializationException, format!("Malformed JSON body: {e}"))
    })
}

/// Decodes a CBOR body (an empty body is an empty input; too deep a body is refused).
pub fn decode_cbor(body: &Bytes) -> AwsResult<Doc> {
    if body.is_empty() {
        return Ok(Doc::Struct(vec![]));
    }
    super::document::cbor_value(body).map(|v| Doc::from_cbor(&v))
}

/// The operation of a JSON request, from `X-Amz-Target`.
pub fn json_operation(headers: &HeaderMap) -> Option<String> {
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    Some(target.strip_prefix(TARGET_PREFIX)?.strip_prefix('.')?.to_string())
}

fn with_request_id(mut r: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

fn render(wire: Wire, op: &str, output: Option<Doc>, request_id: &str) -> Response {
    let output_doc = output.unwrap_or(Doc::Struct(vec![]));
    let r = match wire {
        Wire::Json => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/x-amz-json-1.0")],
            output_doc.to_json().to_string(),
        )
            .into_response(),
        Wire::Cbor => {
            let mut buf = Vec::new();
            if let Err(e) = ciborium::into_writer(&output_doc.to_cbor(), &mut buf) {
                return error_response(
                    &AwsError::internal(format!("could not encode CBOR: {e}")),
                    Protocol::Cbor,
                    request_id,
                );
            }
            let mut r =
                (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/cbor")], buf)
                    .into_response();
            r.headers_mut().insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
            r
        }
        Wire::Query => {
            let mut x = Xml::new();
            if has_output(op) {
                x.el(&format!("{op}Result"), |x| output_doc.write_xml(x));
            }
            x.el("ResponseMetadata", |x| {
                x.text("RequestId", request_id);
            });
            xml_body(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response xmlns=\"{NAMESPACE}\">{}</{op}Response>",
                x.into_string()
            ))
        }
    };
    with_request_id(r, request_id)
}

/// Operations whose model has an output shape (the others answer with metadata only).
fn has_output(op: &str) -> bool {
    !matches!(
        op,
        "PutMetricData"
            | "PutMetricAlarm"
            | "DeleteAlarms"
            | "SetAlarmState"
            | "EnableAlarmActions"
            | "DisableAlarmActions"
    )
}

// ---------------------------------------------------------------------- operations

/// Runs one operation against the service.
pub fn operation(svc: &Service, op: &str, d: &Doc) -> AwsResult<Option<Doc>> {
    Ok(Some(match op {
        "PutMetricData" => {
            let namespace = d.required("Namespace")?;
            let data = d
                .list("MetricData")
                .iter()
                .enumerate()
                .map(|(i, m)| metric_datum(m, i + 1))
                .collect::<AwsResult<Vec<_>>>()?;
            svc.put_metric_data(&namespace, data)?;
            return Ok(None);
        }
        "GetMetricStatistics" => {
            let metric = MetricId::new(
                d.required("Namespace")?,
                d.required("MetricName")?,
                dimensions(d, "Dimensions")?,
            );
            let req = StatisticsRequest {
                start: required_time(d, "StartTime")?,
                end: required_time(d, "EndTime")?,
                period: d.i64("Period")?.ok_or_else(|| missing("Period"))?,
                statistics: d.strings("Statistics"),
                extended_statistics: d.strings("ExtendedStatistics"),
                unit: d.str("Unit"),
                metric,
            };
            let points = svc.get_metric_statistics(&req)?;
            obj(vec![
                ("Label", req.metric.metric_name.as_str().into()),
                (
                    "Datapoints",
                    list(points, |p| {
                        let mut members: Vec<(&str, Doc)> = vec![("Timestamp", p.timestamp.into())];
                        let names: Vec<(&'static str, f64)> =
                            p.statistics.iter().map(|(s, v)| (stat_member(*s), *v)).collect();
                        for (name, v) in names {
                            members.push((name, v.into()));
                        }
                        members.push(("Unit", p.unit.into()));
                        if !p.extended.is_empty() {
                            members.push((
                                "ExtendedStatistics",
                                Doc::Map(
                                    p.extended.into_iter().map(|(k, v)| (k, v.into())).collect(),
                                ),
                            ));
                        }
                        obj(members)
                    }),
                ),
            ])
        }
        "GetMetricData" => {
            let queries = d
                .list("MetricDataQueries")
                .iter()
                .map(data_query)
                .collect::<AwsResult<Vec<_>>>()?;
            let oldest_first = match d.str("ScanBy").as_deref() {
                None | Some("TimestampDescending") => false,
                Some("TimestampAscending") => true,
                Some(other) => {
                    return Err(enum_error(
                        "scanBy",
                        other,
                        "[TimestampDescending, TimestampAscending]",
                    ))
                }
            };
            let results = svc.get_metric_data(
                &queries,
                required_time(d, "StartTime")?,
                required_time(d, "EndTime")?,
                oldest_first,
            )?;
            obj(vec![
                (
                    "MetricDataResults",
                    list(results, |r| {
                        obj(vec![
                            ("Id", r.id.into()),
                            ("Label", r.label.into()),
                            ("Timestamps", list(r.timestamps, Doc::Time)),
                            ("Values", list(r.values, Doc::Float)),
                            ("StatusCode", "Complete".into()),
                            ("Messages", Doc::List(vec![])),
                        ])
                    }),
                ),
                ("Messages", Doc::List(vec![])),
            ])
        }
        "ListMetrics" => {
            let recently_active = match d.str("RecentlyActive").as_deref() {
                None => false,
                Some("PT3H") => true,
                Some(other) => return Err(enum_error("recentlyActive", other, "[PT3H]")),
            };
            let req = ListMetricsRequest {
                namespace: d.str("Namespace"),
                metric_name: d.str("MetricName"),
                dimensions: d
                    .list("Dimensions")
                    .iter()
                    .map(|f| Ok((f.required("Name")?, f.str("Value"))))
                    .collect::<AwsResult<Vec<_>>>()?,
                recently_active,
                next_token: d.str("NextToken"),
            };
            let page = svc.list_metrics(&req)?;
            obj(vec![
                ("Metrics", list(page.items, |m| metric_doc(&m))),
                ("NextToken", page.next_token.into()),
            ])
        }
        "PutMetricAlarm" => {
            svc.put_alarm(metric_alarm(svc, d)?)?;
            return Ok(None);
        }
        "DescribeAlarms" => {
            let f = AlarmFilter {
                names: d.strings("AlarmNames"),
                name_prefix: d.str("AlarmNamePrefix"),
                state: d.str("StateValue").map(|s| state_value(&s)).transpose()?,
                action_prefix: d.str("ActionPrefix"),
                types: d.strings("AlarmTypes"),
                max_records: d.u32("MaxRecords")?,
                next_token: d.str("NextToken"),
            };
            let page = svc.describe_alarms(&f)?;
            obj(vec![
                ("CompositeAlarms", Doc::List(vec![])),
                ("MetricAlarms", list(page.items, |a| alarm_doc(&a))),
                ("NextToken", page.next_token.into()),
            ])
        }
        "DescribeAlarmsForMetric" => {
            let q = AlarmsForMetric {
                namespace: d.required("Namespace")?,
                metric_name: d.required("MetricName")?,
                dimensions: dimensions(d, "Dimensions")?,
                statistic: d.str("Statistic"),
                extended_statistic: d.str("ExtendedStatistic"),
                period: d.u32("Period")?,
                unit: d.str("Unit"),
            };
            let alarms = svc.describe_alarms_for_metric(&q)?;
            obj(vec![("MetricAlarms", list(alarms, |a| alarm_doc(&a)))])
        }
        "DeleteAlarms" => {
            svc.delete_alarms(&d.strings("AlarmNames"))?;
            return Ok(None);
        }
        "SetAlarmState" => {
            let name = d.required("AlarmName")?;
            let state = state_value(&d.required("StateValue")?)?;
            let reason = d.required("StateReason")?;
            svc.set_alarm_state(&name, state, &reason, d.str("StateReasonData").as_deref())?;
            return Ok(None);
        }
        "EnableAlarmActions" | "DisableAlarmActions" => {
            svc.set_alarm_actions_enabled(&d.strings("AlarmNames"), op == "EnableAlarmActions")?;
            return Ok(None);
        }
        "DescribeAlarmHistory" => {
            let item_type = match d.str("HistoryItemType").as_deref() {
                None => None,
                Some("ConfigurationUpdate") => Some(HistoryItemType::ConfigurationUpdate),
                Some("StateUpdate") => Some(HistoryItemType::StateUpdate),
                Some("Action") => Some(HistoryItemType::Action),
                Some(other) => {
                    return Err(enum_error(
                        "historyItemType",
                        other,
                        "[ConfigurationUpdate, StateUpdate, Action, AlarmContributorStateUpdate, AlarmContributorAction]",
                    ))
                }
            };
            let f = HistoryFilter {
                alarm_name: d.str("AlarmName"),
                types: d.strings("AlarmTypes"),
                item_type,
                start: d.time("StartDate")?,
                end: d.time("EndDate")?,
                oldest_first: d.str("ScanBy").as_deref() == Some("TimestampAscending"),
                max_records: d.u32("MaxRecords")?,
                next_token: d.str("NextToken"),
            };
            let page = svc.describe_alarm_history(&f)?;
            obj(vec![
                (
                    "AlarmHistoryItems",
                    list(page.items, |h| {
                        obj(vec![
                            ("AlarmName", h.alarm_name.into()),
                            ("AlarmType", h.alarm_type.into()),
                            ("Timestamp", h.timestamp.into()),
                            ("HistoryItemType", history_type(h.history_item_type).into()),
                            ("HistorySummary", h.history_summary.into()),
                            ("HistoryData", h.history_data.into()),
                        ])
                    }),
                ),
                ("NextToken", page.next_token.into()),
            ])
        }
        "TagResource" => {
            svc.tag_alarm(&d.required("ResourceARN")?, &tags(d)?)?;
            obj(vec![])
        }
        "UntagResource" => {
            svc.untag_alarm(&d.required("ResourceARN")?, &d.strings("TagKeys"))?;
            obj(vec![])
        }
        "ListTagsForResource" => {
            let tags = svc.alarm_tags(&d.required("ResourceARN")?)?;
            obj(vec![("Tags", list(tags, |t| tag_doc(&t)))])
        }
        other => return Err(AwsError::invalid_action(other)),
    }))
}

// ---------------------------------------------------------------------- decoding

fn missing(name: &str) -> AwsError {
    AwsError::missing_parameter(name)
}

fn required_time(d: &Doc, key: &str) -> AwsResult<chrono::DateTime<chrono::Utc>> {
    d.time(key)?.ok_or_else(|| missing(key))
}

fn enum_error(at: &str, value: &str, set: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
    ))
}

fn state_value(s: &str) -> AwsResult<AlarmState> {
    AlarmState::parse(s)
        .ok_or_else(|| enum_error("stateValue", s, "[INSUFFICIENT_DATA, ALARM, OK]"))
}

fn dimensions(d: &Doc, key: &str) -> AwsResult<Vec<Dimension>> {
    d.list(key)
        .iter()
        .map(|x| Ok(Dimension::new(x.required("Name")?, x.required("Value")?)))
        .collect()
}

fn tags(d: &Doc) -> AwsResult<Vec<Tag>> {
    d.list("Tags")
        .iter()
        .map(|t| Ok(Tag::new(t.required("Key")?, t.str("Value").unwrap_or_default())))
        .collect()
}

fn metric_datum(m: &Doc, n: usize) -> AwsResult<MetricDatum> {
    let at = |f: &str| format!("MetricData.member.{n}.{f}");
    let exclusive = |a: &str, b: &str| {
        AwsError::new(
            ErrorCode::InvalidParameterCombination,
            format!(
                "The parameters {} and {} are mutually exclusive and you have specified both.",
                at(a),
                at(b)
            ),
        )
    };
    let value = m.f64("Value")?;
    let values = m.floats("Values")?;
    let counts = m.floats("Counts")?;
    let set = m.get("StatisticValues");
    let samples = match (value, values.is_empty(), set) {
        (Some(_), false, _) => return Err(exclusive("Value", "Values")),
        (Some(_), _, Some(_)) => return Err(exclusive("Value", "StatisticValues")),
        (None, false, Some(_)) => return Err(exclusive("Values", "StatisticValues")),
        (Some(v), true, None) => Samples::Value(v),
        (None, false, None) => {
            if !counts.is_empty() && counts.len() != values.len() {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The parameters {} and {} must be of the same size.",
                    at("Values"),
                    at("Counts")
                )));
            }
            let counts = if counts.is_empty() { vec![1.0; values.len()] } else { counts };
            Samples::Values(values.into_iter().zip(counts).collect())
        }
        (None, true, Some(s)) => {
            let field = |f: &str| -> AwsResult<f64> {
                s.f64(f)?.ok_or_else(|| missing(&at(&format!("StatisticValues.{f}"))))
            };
            Samples::Set(StatisticSet {
                sample_count: field("SampleCount")?,
                sum: field("Sum")?,
                minimum: field("Minimum")?,
                maximum: field("Maximum")?,
            })
        }
        (None, true, None) => {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterCombination,
                format!(
                    "At least one of the parameters {}, {} or {} must be specified.",
                    at("Value"),
                    at("Values"),
                    at("StatisticValues")
                ),
            ))
        }
    };
    Ok(MetricDatum {
        metric_name: m.required("MetricName")?,
        dimensions: dimensions(m, "Dimensions")?,
        timestamp: m.time("Timestamp")?,
        samples,
        unit: m.str("Unit"),
    })
}

fn data_query(q: &Doc) -> AwsResult<DataQuery> {
    let metric_stat = match q.get("MetricStat") {
        None => None,
        Some(ms) => {
            let metric = ms.get("Metric").ok_or_else(|| missing("MetricStat.Metric"))?;
            Some(MetricStat {
                metric: MetricId::new(
                    metric.required("Namespace")?,
                    metric.required("MetricName")?,
                    dimensions(metric, "Dimensions")?,
                ),
                period: ms.i64("Period")?.ok_or_else(|| missing("MetricStat.Period"))?,
                stat: ms.required("Stat")?,
                unit: ms.str("Unit"),
            })
        }
    };
    Ok(DataQuery {
        id: q.required("Id")?,
        metric_stat,
        expression: q.str("Expression"),
        label: q.str("Label"),
        return_data: q.bool("ReturnData")?.unwrap_or(true),
        period: q.i64("Period")?,
    })
}

fn metric_alarm(svc: &Service, d: &Doc) -> AwsResult<MetricAlarm> {
    let op = d.required("ComparisonOperator")?;
    let comparison = ComparisonOperator::parse(&op).ok_or_else(|| {
        enum_error(
            "comparisonOperator",
            &op,
            "[GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold, LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, GreaterThanUpperThreshold]",
        )
    })?;
    let evaluation_periods = d.u32("EvaluationPeriods")?.ok_or_else(|| {
        AwsError::validation(
            "1 validation error detected: Value null at 'evaluationPeriods' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let mut a = MetricAlarm::new(
        svc.region(),
        d.required("AlarmName")?,
        "",
        "",
        "",
        0,
        evaluation_periods,
        0.0,
        comparison,
        svc.clock.now(),
    );
    a.namespace = d.str("Namespace");
    a.metric_name = d.str("MetricName");
    a.statistic = d.str("Statistic");
    a.extended_statistic = d.str("ExtendedStatistic");
    a.period = d.u32("Period")?;
    a.threshold = d.f64("Threshold")?;
    a.alarm_description = d.str("AlarmDescription");
    a.actions_enabled = d.bool("ActionsEnabled")?.unwrap_or(true);
    a.ok_actions = d.strings("OKActions");
    a.alarm_actions = d.strings("AlarmActions");
    a.insufficient_data_actions = d.strings("InsufficientDataActions");
    a.dimensions = dimensions(d, "Dimensions")?;
    a.unit = d.str("Unit");
    a.datapoints_to_alarm = d.u32("DatapointsToAlarm")?;
    a.treat_missing_data = match d.str("TreatMissingData") {
        None => None,
        Some(t) => Some(TreatMissingData::parse(&t).ok_or_else(|| {
            AwsError::validation(format!(
                "Option {t} is not supported. Supported options for parameter TreatMissingData are breaching, notBreaching, ignore and missing."
            ))
        })?),
    };
    a.evaluate_low_sample_count_percentile = d.str("EvaluateLowSampleCountPercentile");
    a.threshold_metric_id = d.str("ThresholdMetricId");
    a.tags = tags(d)?;
    a.metrics = d
        .list("Metrics")
        .iter()
        .map(|q| {
            let metric_stat = match q.get("MetricStat") {
                None => None,
                Some(ms) => {
                    let m = ms.get("Metric").ok_or_else(|| missing("MetricStat.Metric"))?;
                    Some(model_alarm::MetricStat {
                        namespace: m.required("Namespace")?,
                        metric_name: m.required("MetricName")?,
                        dimensions: dimensions(m, "Dimensions")?,
                        period: ms.u32("Period")?.ok_or_else(|| missing("MetricStat.Period"))?,
                        stat: ms.required("Stat")?,
                        unit: ms.str("Unit"),
                    })
                }
            };
            Ok(MetricDataQuery {
                id: q.required("Id")?,
                metric_stat,
                expression: q.str("Expression"),
                label: q.str("Label"),
                return_data: q.bool("ReturnData")?,
                period: q.u32("Period")?,
            })
        })
        .collect::<AwsResult<Vec<_>>>()?;
    Ok(a)
}

// ---------------------------------------------------------------------- encoding

fn stat_member(s: Statistic) -> &'static str {
    match s {
        Statistic::SampleCount => "SampleCount",
        Statistic::Average => "Average",
        Statistic::Sum => "Sum",
        Statistic::Minimum => "Minimum",
        Statistic::Maximum => "Maximum",
        Statistic::Percentile(_) => "ExtendedStatistics",
    }
}

fn history_type(t: HistoryItemType) -> &'static str {
    match t {
        HistoryItemType::ConfigurationUpdate => "ConfigurationUpdate",
        HistoryItemType::StateUpdate => "StateUpdate",
        HistoryItemType::Action => "Action",
    }
}

fn dimensions_doc(dims: &[Dimension]) -> Doc {
    list(dims, |d| obj(vec![("Name", d.name.as_str().into()), ("Value", d.value.as_str().into())]))
}

fn metric_doc(m: &MetricId) -> Doc {
    obj(vec![
        ("Namespace", m.namespace.as_str().into()),
        ("MetricName", m.metric_name.as_str().into()),
        ("Dimensions", dimensions_doc(&m.dimensions)),
    ])
}

fn tag_doc(t: &Tag) -> Doc {
    obj(vec![("Key", t.key.as_str().into()), ("Value", t.value.as_str().into())])
}

fn alarm_doc(a: &MetricAlarm) -> Doc {
    let metrics = (!a.metrics.is_empty()).then(|| {
        list(&a.metrics, |q| {
            obj(vec![
                ("Id", q.id.as_str().into()),
                (
                    "MetricStat",
                    q.metric_stat
                        .as_ref()
                        .map(|m| {
                            obj(vec![
                                (
                                    "Metric",
                                    obj(vec![
                                        ("Namespace", m.namespace.as_str().into()),
                                        ("MetricName", m.metric_name.as_str().into()),
                                        ("Dimensions", dimensions_doc(&m.dimensions)),
                                    ]),
                                ),
                                ("Period", Doc::Int(m.period.into())),
                                ("Stat", m.stat.as_str().into()),
                                ("Unit", m.unit.as_deref().into()),
                            ])
                        })
                        .unwrap_or(Doc::Null),
                ),
                ("Expression", q.expression.as_deref().into()),
                ("Label", q.label.as_deref().into()),
                ("ReturnData", q.return_data.unwrap_or(true).into()),
                ("Period", q.period.map(|p| Doc::Int(p.into())).unwrap_or(Doc::Null)),
            ])
        })
    });
    let int = |v: Option<u32>| v.map(|p| Doc::Int(p.into())).unwrap_or(Doc::Null);
    obj(vec![
        ("AlarmName", a.alarm_name.as_str().into()),
        ("AlarmArn", a.alarm_arn.as_str().into()),
        ("AlarmDescription", a.alarm_description.as_deref().into()),
        ("AlarmConfigurationUpdatedTimestamp", a.alarm_configuration_updated_timestamp.into()),
        ("ActionsEnabled", a.actions_enabled.into()),
        ("OKActions", list(&a.ok_actions, |s| s.into())),
        ("AlarmActions", list(&a.alarm_actions, |s| s.into())),
        ("InsufficientDataActions", list(&a.insufficient_data_actions, |s| s.into())),
        ("StateValue", a.state_value.as_str().into()),
        ("StateReason", a.state_reason.as_str().into()),
        ("StateReasonData", a.state_reason_data.as_deref().into()),
        ("StateUpdatedTimestamp", a.state_updated_timestamp.into()),
        ("MetricName", a.metric_name.as_deref().into()),
        ("Namespace", a.namespace.as_deref().into()),
        ("Statistic", a.statistic.as_deref().into()),
        ("ExtendedStatistic", a.extended_statistic.as_deref().into()),
        ("Dimensions", dimensions_doc(&a.dimensions)),
        ("Period", int(a.period)),
        ("Unit", a.unit.as_deref().into()),
        ("EvaluationPeriods", Doc::Int(a.evaluation_periods.into())),
        ("DatapointsToAlarm", int(a.datapoints_to_alarm)),
        ("Threshold", a.threshold.into()),
        ("ComparisonOperator", a.comparison_operator.as_str().into()),
        ("TreatMissingData", a.treat_missing_data.map(|t| t.as_str()).into()),
        (
            "EvaluateLowSampleCountPercentile",
            a.evaluate_low_sample_count_percentile.as_deref().into(),
        ),
        ("Metrics", metrics.into()),
        ("ThresholdMetricId", a.threshold_metric_id.as_deref().into()),
        ("StateTransitionedTimestamp", a.state_transitioned_timestamp.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_empty_malformed_and_the_operation_header() {
        assert_eq!(decode_json(&Bytes::from_static(b" \n")).unwrap(), Doc::Struct(vec![]));
        let err = decode_json(&Bytes::from_static(b"{\"AlarmNames\": [")).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        assert!(err.message.starts_with("Malformed JSON body: "), "{err}");
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "GraniteServiceVersion20100801.DescribeAlarms".parse().unwrap());
        assert_eq!(json_operation(&h).as_deref(), Some("DescribeAlarms"));
        h.insert("x-amz-target", "Logs_20140328.DescribeLogGroups".parse().unwrap());
        assert_eq!(json_operation(&h), None);
    }

    #[test]
    fn a_state_outside_the_enum_is_refused_with_the_set() {
        assert_eq!(state_value("ALARM").unwrap(), AlarmState::Alarm);
        let err = state_value("RED").unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "1 validation error detected: Value 'RED' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
        );
    }

    #[test]
    fn dimensions_keep_their_order_and_need_name_and_value() {
        let d = Doc::from_json(&serde_json::json!({
            "Dimensions": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]
        }));
        let dims = dimensions(&d, "Dimensions").unwrap();
        assert_eq!(dims, [Dimension::new("B", "2"), Dimension::new("A", "1")]);
        let d = Doc::from_json(&serde_json::json!({"Dimensions": [{"Name": "B"}]}));
        let err = dimensions(&d, "Dimensions").unwrap_err();
        assert!(err.message.contains("Value null at 'value'"), "{err}");
    }
}
