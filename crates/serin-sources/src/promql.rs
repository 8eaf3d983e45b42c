//! Kayenta's Prometheus query forms, rendered to PromQL for one scope.
//!
//! A metric's `query` (Kayenta's `PrometheusCanaryMetricSetQueryConfig`) is one of:
//! - `customInlineTemplate`: a full PromQL expression (an optional `PromQL:` prefix is
//!   stripped, as Kayenta writes it);
//! - `metricName` + `labelBindings` + `customFilterTemplate` (a name looked up in the
//!   config's `templates`): rendered `avg(metricName{filter,bindings...}) by (groupByFields)`
//!   as Kayenta does; a filter template that starts with `PromQL:` is a full expression;
//! - `metricName` + `resourceType` (`gce_instance` or `aws_ec2_instance`): Kayenta's
//!   built-in scope filters.
//!
//! Placeholders `${scope}`, `${location}`, `${project}`, `${resourceType}` and any
//! extended scope parameter are substituted per scope. Substitution is escaped for
//! where the placeholder stands: inside a quoted PromQL string the value is escaped
//! for that string, and when that string is the pattern of a regex matcher (`=~`,
//! `!~`, and Kayenta's built-in `resourceType` filters) its regex metacharacters are
//! escaped first, so `.*` matches only the text `.*`; outside any string only a plain
//! token (`[A-Za-z0-9_:.]+`) is accepted; so a scope value can never change the shape
//! of the query, nor widen the series a matcher selects.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serin_core::CanaryConfig;
use serin_core::config::MetricConfig;
use thiserror::Error;

/// The label Kayenta's `gce_instance` resource type matches the scope against.
pub const GCE_SCOPE_LABEL: &str = "instance";

/// One side's scope: which deployment the series are for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSpec {
    /// Kayenta's `scope`: e.g. a server group, deployment or label value.
    pub scope: String,
    /// Kayenta's `location` (Argo Rollouts sends it as `region`).
    #[serde(default, alias = "region")]
    pub location: String,
    /// Extended scope parameters, substituted as `${name}`.
    #[serde(default, alias = "extendedScopeParams")]
    pub params: BTreeMap<String, String>,
}

/// Why a metric's query cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query is not a Prometheus query.
    #[error("metric {metric:?}: query type {kind:?} is not supported (only prometheus)")]
    UnsupportedType {
        /// Metric name.
        metric: String,
        /// The `type` given.
        kind: String,
    },
    /// The query object does not have the expected shape.
    #[error("metric {metric:?}: invalid query: {reason}")]
    Invalid {
        /// Metric name.
        metric: String,
        /// What is wrong.
        reason: String,
    },
    /// A `customFilterTemplate` names no template of the config.
    #[error(
        "metric {metric:?}: customFilterTemplate {template:?} is not in the config's templates"
    )]
    UnknownTemplate {
        /// Metric name.
        metric: String,
        /// Template name.
        template: String,
    },
    /// A placeholder has no value for this scope.
    #[error(
        "metric {metric:?}: placeholder ${{{name}}} has no value in the scope (known: {known})"
    )]
    UnknownPlaceholder {
        /// Metric name.
        metric: String,
        /// Placeholder name.
        name: String,
        /// Names that have values.
        known: String,
    },
    /// A scope value that would change the query's shape.
    #[error("metric {metric:?}: value {value:?} for ${{{name}}} is not allowed there: {reason}")]
    UnsafeValue {
        /// Metric name.
        metric: String,
        /// Placeholder name.
        name: String,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusQuery {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    label_bindings: Vec<String>,
    #[serde(default)]
    group_by_fields: Vec<String>,
    #[serde(default)]
    custom_inline_template: Option<String>,
    #[serde(default)]
    custom_filter_template: Option<String>,
    #[serde(default)]
    resource_type: Option<String>,
}

/// Renders `metric`'s query of `config` to PromQL for `scope`.
pub fn render_query(
    config: &CanaryConfig,
    metric: &MetricConfig,
    scope: &ScopeSpec,
) -> Result<String, QueryError> {
    let name = &metric.name;
    let invalid = |reason: String| QueryError::Invalid {
        metric: name.clone(),
        reason,
    };
    if !matches!(metric.query, Value::Object(_)) {
        return Err(invalid(
            "expected an object with metricName or customInlineTemplate".into(),
        ));
    }
    let query: PrometheusQuery =
        serde_json::from_value(metric.query.clone()).map_err(|e| invalid(e.to_string()))?;
    if let Some(kind) = query
        .kind
        .as_deref()
        .filter(|k| !k.eq_ignore_ascii_case("prometheus"))
    {
        return Err(QueryError::UnsupportedType {
            metric: name.clone(),
            kind: kind.to_owned(),
        });
    }
    let vars = Variables::new(scope, query.resource_type.as_deref());
    let non_empty = |text: &Option<String>| {
        text.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };

    if let Some(inline) = non_empty(&query.custom_inline_template) {
        let body = inline.strip_prefix("PromQL:").unwrap_or(&inline);
        return expand(name, body.trim(), &vars);
    }
    let filter = match non_empty(&query.custom_filter_template) {
        Some(template_name) => {
            let template = config.templates.get(&template_name).ok_or_else(|| {
                QueryError::UnknownTemplate {
                    metric: name.clone(),
                    template: template_name.clone(),
                }
            })?;
            let expanded = expand(name, template, &vars)?;
            if let Some(full) = expanded.strip_prefix("PromQL:") {
                return Ok(full.trim().to_owned());
            }
            Some(expanded)
        }
        None => None,
    };
    let metric_name = non_empty(&query.metric_name).ok_or_else(|| {
        invalid("metricName is required unless customInlineTemplate is given".into())
    })?;
    if !is_identifier(&metric_name) {
        return Err(invalid(format!(
            "metricName {metric_name:?} is not a Prometheus metric name"
        )));
    }

    let mut filters: Vec<String> = Vec::new();
    match (
        &filter,
        query.resource_type.as_deref().filter(|t| !t.is_empty()),
    ) {
        (Some(filter), _) => {
            filters.push(filter.clone());
            filters.extend(query.label_bindings.iter().cloned());
        }
        (None, Some(resource_type)) => {
            filters.extend(query.label_bindings.iter().cloned());
            resource_filters(name, resource_type, scope, &mut filters)?;
        }
        (None, None) => {
            return Err(invalid(
                "either customFilterTemplate, customInlineTemplate or resourceType is required (as in Kayenta)".into(),
            ));
        }
    }
    let mut out = format!("avg({metric_name}");
    if !filters.is_empty() {
        out.push('{');
        out.push_str(&filters.join(","));
        out.push('}');
    }
    out.push(')');
    if !query.group_by_fields.is_empty() {
        for field in &query.group_by_fields {
            if !is_identifier(field) {
                return Err(invalid(format!(
                    "groupByFields entry {field:?} is not a label name"
                )));
            }
        }
        out.push_str(" by (");
        out.push_str(&query.group_by_fields.join(","));
        out.push(')');
    }
    Ok(out)
}

/// Kayenta's built-in filters for its two resource types.
fn resource_filters(
    metric: &str,
    resource_type: &str,
    scope: &ScopeSpec,
    filters: &mut Vec<String>,
) -> Result<(), QueryError> {
    let invalid = |reason: String| QueryError::Invalid {
        metric: metric.to_owned(),
        reason,
    };
    if scope.location.is_empty() {
        return Err(invalid(format!(
            "location (region) is required when resourceType is {resource_type:?}"
        )));
    }
    let quoted = |text: &str| escape_double_quoted(text);
    // Values inside Kayenta's regex filters match literally.
    let pattern = |text: &str| escape_double_quoted(&escape_regex(text));
    match resource_type {
        "gce_instance" => {
            if !scope.scope.is_empty() {
                filters.push(format!(
                    "{GCE_SCOPE_LABEL}=~\"{}-.{{4}}\"",
                    pattern(&scope.scope)
                ));
            }
            let mut zone = String::from(".+/");
            if let Some(project) = scope.params.get("project").filter(|p| !p.is_empty()) {
                zone.push_str(&format!("projects/{}/", pattern(project)));
            }
            zone.push_str(&format!("zones/{}-.{{1}}", pattern(&scope.location)));
            filters.push(format!("zone=~\"{zone}\""));
        }
        "aws_ec2_instance" => {
            if !scope.scope.is_empty() {
                filters.push(format!("asg_groupName=\"{}\"", quoted(&scope.scope)));
            }
            filters.push(format!("zone=~\"{}.{{1}}\"", pattern(&scope.location)));
        }
        other => {
            return Err(invalid(format!(
                "resourceType {other:?} has no built-in filter; use labelBindings and a customFilterTemplate"
            )));
        }
    }
    Ok(())
}

/// The values placeholders may name, for one scope.
struct Variables<'a> {
    values: BTreeMap<&'a str, &'a str>,
}

impl<'a> Variables<'a> {
    fn new(scope: &'a ScopeSpec, resource_type: Option<&'a str>) -> Self {
        let mut values: BTreeMap<&str, &str> = scope
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        values.insert("scope", &scope.scope);
        values.insert("location", &scope.location);
        values.entry("project").or_insert("");
        values.insert("resourceType", resource_type.unwrap_or(""));
        Self { values }
    }
}

/// Where the scanner stands in the template.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Code,
    /// Inside a string quoted with this character; `true` when it is a regex pattern.
    Quoted(char, bool),
    /// Inside a backtick string; `true` when it is a regex pattern.
    Raw(bool),
}

/// True when `before` ends with a regex matcher operator (`=~`, `!~`), spaces allowed.
fn ends_with_regex_matcher(before: &str) -> bool {
    let trimmed = before.trim_end();
    trimmed.ends_with("=~") || trimmed.ends_with("!~")
}

/// Substitutes `${name}` placeholders, escaping each value for its context.
fn expand(metric: &str, template: &str, vars: &Variables<'_>) -> Result<String, QueryError> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut context = Context::Code;
    let mut chars = template.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '$' && template[at..].starts_with("${") {
            let rest = &template[at + 2..];
            let Some(close) = rest.find('}') else {
                return Err(QueryError::Invalid {
                    metric: metric.to_owned(),
                    reason: format!("unterminated placeholder in {template:?}"),
                });
            };
            let name = &rest[..close];
            let value = vars
                .values
                .get(name)
                .ok_or_else(|| QueryError::UnknownPlaceholder {
                    metric: metric.to_owned(),
                    name: shown(name),
                    known: shown(&vars.values.keys().copied().collect::<Vec<_>>().join(", ")),
                })?;
            let unsafe_value = |reason| QueryError::UnsafeValue {
                metric: metric.to_owned(),
                name: shown(name),
                value: shown(value),
                reason,
            };
            let literal = |regex: bool| {
                if regex {
                    escape_regex(value)
                } else {
                    (*value).to_owned()
                }
            };
            match context {
                Context::Quoted('"', regex) => out.push_str(&escape_double_quoted(&literal(regex))),
                Context::Quoted(_, regex) => out.push_str(&escape_single_quoted(&literal(regex))),
                Context::Raw(regex) => {
                    if value.contains('`') {
                        return Err(unsafe_value("a backtick cannot appear in a raw string"));
                    }
                    out.push_str(&literal(regex));
                }
                Context::Code => {
                    if value.is_empty()
                        || !value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.'))
                    {
                        return Err(unsafe_value(
                            "outside a quoted string only [A-Za-z0-9_:.]+ is allowed",
                        ));
                    }
                    out.push_str(value);
                }
            }
            // Skip the placeholder's characters.
            let end = at + 2 + close + 1;
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
            continue;
        }
        let regex = context == Context::Code && ends_with_regex_matcher(&out);
        out.push(c);
        context = match (context, c) {
            (Context::Code, '"' | '\'') => Context::Quoted(c, regex),
            (Context::Code, '`') => Context::Raw(regex),
            (Context::Quoted(q, regex), '\\') => {
                // An escape in the template itself: copy the escaped character.
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
                Context::Quoted(q, regex)
            }
            (Context::Quoted(q, _), c) if c == q => Context::Code,
            (Context::Raw(_), '`') => Context::Code,
            (context, _) => context,
        };
    }
    Ok(out)
}

fn escape_double_quoted(value: &str) -> String {
    escape_quoted(value, '"')
}

fn escape_single_quoted(value: &str) -> String {
    escape_quoted(value, '\'')
}

fn escape_quoted(value: &str, quote: char) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes the metacharacters of Prometheus' regex syntax (RE2), as Go's
/// `regexp.QuoteMeta` does, so the value matches only itself.
fn escape_regex(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(
            c,
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Longest request-given text an error message repeats, in characters.
pub(crate) const SHOWN_CHARS: usize = 128;

/// `text` cut to [`SHOWN_CHARS`] characters, with an ellipsis when cut, so an error
/// never echoes a huge value back whole.
pub(crate) fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(query: Value) -> CanaryConfig {
        CanaryConfig::from_value(json!({
            "name": "t",
            "templates": {
                "app-filter": "app=\"${scope}\",region=~\"${location}.*\"",
                "full": "PromQL:sum(rate(errors_total{app=\"${scope}\"}[1m]))",
                "raw": "app=~`${scope}`",
                "bare": "app=${scope}",
                "regex": "track=~\"${scope}\",env=\"${env}\"",
                "negated": "track !~ '${scope}'",
                "equal-dot": "track=\"${scope}\",zone=~\"${location}.*\""
            },
            "metrics": [{"name": "m", "query": query, "analysisConfigurations": {"canary": {}}}]
        }))
        .unwrap()
    }

    fn scope(value: &str) -> ScopeSpec {
        ScopeSpec {
            scope: value.to_owned(),
            location: "eu-west-1".to_owned(),
            params: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        }
    }

    /// One row: query JSON, scope value, expected PromQL or error text.
    fn check(query: Value, scope_value: &str, expected: Result<&str, &str>) {
        let config = config(query.clone());
        let got = render_query(&config, &config.metrics[0], &scope(scope_value));
        match (got, expected) {
            (Ok(text), Ok(want)) => assert_eq!(text, want, "{query}"),
            (Err(error), Err(want)) => {
                assert!(error.to_string().contains(want), "{query}: {error}")
            }
            (got, want) => panic!("{query}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn kayenta_query_forms_render() {
        let cases: Vec<(Value, &str, Result<&str, &str>)> = vec![
            (
                json!({"type": "prometheus", "metricName": "http_latency_seconds", "customFilterTemplate": "app-filter"}),
                "checkout-v2",
                Ok(r#"avg(http_latency_seconds{app="checkout-v2",region=~"eu-west-1.*"})"#),
            ),
            (
                json!({"metricName": "http_latency_seconds", "customFilterTemplate": "app-filter",
                       "labelBindings": ["code=\"200\""], "groupByFields": ["pod"]}),
                "v1",
                Ok(
                    r#"avg(http_latency_seconds{app="v1",region=~"eu-west-1.*",code="200"}) by (pod)"#,
                ),
            ),
            (
                json!({"customInlineTemplate": "PromQL:histogram_quantile(0.99, sum by (le) (rate(h_bucket{app=\"${scope}\",env=\"${env}\"}[1m])))"}),
                "v1",
                Ok(
                    r#"histogram_quantile(0.99, sum by (le) (rate(h_bucket{app="v1",env="prod"}[1m])))"#,
                ),
            ),
            (
                json!({"metricName": "x", "customFilterTemplate": "full"}),
                "v1",
                Ok(r#"sum(rate(errors_total{app="v1"}[1m]))"#),
            ),
            (
                json!({"metricName": "cpu", "resourceType": "aws_ec2_instance"}),
                "asg-v1",
                Ok(r#"avg(cpu{asg_groupName="asg-v1",zone=~"eu-west-1.{1}"})"#),
            ),
            (
                json!({"metricName": "cpu", "resourceType": "gce_instance"}),
                "mig-v1",
                Ok(r#"avg(cpu{instance=~"mig-v1-.{4}",zone=~".+/zones/eu-west-1-.{1}"})"#),
            ),
            // Injection attempts stay inside their string.
            (
                json!({"metricName": "m", "customFilterTemplate": "app-filter"}),
                "v1\"} or vector(1) or {a=\"",
                Ok(r#"avg(m{app="v1\"} or vector(1) or {a=\"",region=~"eu-west-1.*"})"#),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "app-filter"}),
                "back\\slash",
                Ok(r#"avg(m{app="back\\slash",region=~"eu-west-1.*"})"#),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "raw"}),
                "a`b",
                Err("backtick"),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "bare"}),
                "v1} or vector(1)",
                Err("only [A-Za-z0-9_:.]+"),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "bare"}),
                "v1",
                Ok("avg(m{app=v1})"),
            ),
            // A value in a regex matcher matches only itself: `.*` cannot widen it.
            (
                json!({"metricName": "m", "customFilterTemplate": "regex"}),
                ".*",
                Ok(r#"avg(m{track=~"\\.\\*",env="prod"})"#),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "regex"}),
                "v1|v2",
                Ok(r#"avg(m{track=~"v1\\|v2",env="prod"})"#),
            ),
            (
                json!({"customInlineTemplate": "sum(up{track=~\"${scope}\"})"}),
                "(a+)?[b]{2}^$",
                Ok(r#"sum(up{track=~"\\(a\\+\\)\\?\\[b\\]\\{2\\}\\^\\$"})"#),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "negated"}),
                "a.b",
                Ok(r#"avg(m{track !~ 'a\\.b'})"#),
            ),
            (
                json!({"metricName": "m", "customFilterTemplate": "raw"}),
                ".*",
                Ok(r"avg(m{app=~`\.\*`})"),
            ),
            // Equality matchers take the value as it is; the template's own regex stays.
            (
                json!({"metricName": "m", "customFilterTemplate": "equal-dot"}),
                ".*",
                Ok(r#"avg(m{track=".*",zone=~"eu-west-1.*"})"#),
            ),
            (
                json!({"metricName": "cpu", "resourceType": "gce_instance"}),
                ".*",
                Ok(r#"avg(cpu{instance=~"\\.\\*-.{4}",zone=~".+/zones/eu-west-1-.{1}"})"#),
            ),
            // Errors a user can act on.
            (
                json!({"metricName": "m", "customFilterTemplate": "nope"}),
                "v1",
                Err("\"nope\" is not in the config's templates"),
            ),
            (
                json!({"customInlineTemplate": "up{a=\"${missing}\"}"}),
                "v1",
                Err("placeholder ${missing}"),
            ),
            (
                json!({"type": "datadog", "metricName": "m"}),
                "v1",
                Err("query type \"datadog\""),
            ),
            (
                json!({"metricName": "m"}),
                "v1",
                Err("resourceType is required"),
            ),
            (
                json!({"metricName": "m{a}", "customFilterTemplate": "app-filter"}),
                "v1",
                Err("not a Prometheus metric name"),
            ),
            (
                json!({"metricName": "m", "resourceType": "k8s_pod"}),
                "v1",
                Err("no built-in filter"),
            ),
            (json!("up"), "v1", Err("expected an object")),
        ];
        for (query, scope_value, expected) in cases {
            check(query, scope_value, expected);
        }
    }

    #[test]
    fn regex_filters_of_resource_types_escape_the_location() {
        let config = config(json!({"metricName": "cpu", "resourceType": "aws_ec2_instance"}));
        let mut spec = scope("asg.v1");
        spec.location = ".*".to_owned();
        let query = render_query(&config, &config.metrics[0], &spec).unwrap();
        assert_eq!(
            query,
            r#"avg(cpu{asg_groupName="asg.v1",zone=~"\\.\\*.{1}"})"#
        );
    }

    #[test]
    fn huge_values_are_not_echoed_whole() {
        let huge = "}".repeat(1 << 20);
        let config = config(json!({"metricName": "m", "customFilterTemplate": "bare"}));
        let error = render_query(&config, &config.metrics[0], &scope(&huge))
            .unwrap_err()
            .to_string();
        assert!(error.len() < 1024, "{} bytes", error.len());
        assert!(
            error.contains(&format!("{}…", "}".repeat(SHOWN_CHARS))),
            "{error}"
        );
    }
}
