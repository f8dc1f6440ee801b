"""Distribution bands and reconciliations on the published marts (schema marts).

dbt already tests each mart's keys, accepted values, ranges and row invariants while it builds
(dbt_project/models/marts/*.yml). These suites check what a data owner would be paged for
before the numbers reach MongoDB, Tableau and the report: a figure outside the band the
business knows (docs/data_format.md), a market or device that vanished, and revenue that no
longer adds up across marts. That the genres' revenue adds up to what the active users were
billed is dbt's test (tests/reconciliation/assert_revenue_by_genre_adds_up_to_billed_revenue),
not repeated here.

Bands are wide on purpose (about ±8 points around the measured values) so that small
generated data sets (scale 0.01) pass and a genuine break does not.
Errors stop publishing; warnings are shifts worth a look that do not make the numbers wrong.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from streamlytics.validation.domains import Domains
from streamlytics.validation.specs import WARNING, SuiteSpec, between, named, null_rate, sql_check

STAGE = "marts"

# Mean completion per plan, docs/data_format.md: ≈ 68 / 79 / 88 % (Basic / Standard / Premium).
PLAN_COMPLETION_BANDS = {"Basic": (60, 76), "Standard": (71, 87), "Premium": (80, 95)}
# Share of sessions per device, docs/data_format.md: ≈ 36 / 31 / 14 / 14 / 5 %.
DEVICE_SHARE_BANDS = {
    "Smart TV": (0.28, 0.44),
    "Mobile": (0.23, 0.39),
    "Desktop": (0.06, 0.22),
    "Tablet": (0.06, 0.22),
    "Gaming Console": (0.0, 0.13),
}
# Any aggregate of completion (a device, a country, a month) sits between the plans' means.
COMPLETION_BAND = (60, 95)
# A month with less than half the sessions of the median month means a missing export.
MIN_MONTH_SHARE_OF_MEDIAN = 0.5


def _values(bands: dict[str, tuple[float, float]]) -> str:
    return ", ".join(f"('{key}', {low}, {high})" for key, (low, high) in bands.items())


def user_analytics_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="marts_rpt_user_analytics",
        stage=STAGE,
        schema="marts",
        table="rpt_user_analytics",
        expectations=(
            sql_check(
                "mean_completion_per_plan_in_band",
                "Mean completion per plan (weighted by sessions) lies in its band: "
                + ", ".join(f"{p} {lo}-{hi} %" for p, (lo, hi) in PLAN_COMPLETION_BANDS.items())
                + ".",
                f"""
                with groups as (select * from {{batch}}),
                bands (subscription_type, low, high) as (values {_values(PLAN_COMPLETION_BANDS)}),
                plans as (
                    select subscription_type,
                           sum(mean_completion_percentage * session_count) / sum(session_count) as mean_completion
                    from groups
                    where session_count > 0
                    group by subscription_type
                )
                select b.subscription_type, p.mean_completion, b.low, b.high
                from bands as b
                left join plans as p on p.subscription_type = b.subscription_type
                where p.mean_completion is null or p.mean_completion < b.low or p.mean_completion > b.high
                """,
                why="Plan drives completion (68 / 79 / 88 %): a plan outside its band means a broken "
                "plan join or a broken export, and every plan comparison downstream would be wrong.",
            ),
            sql_check(
                "premium_streams_more_4k_than_basic",
                "Premium sessions are streamed in 4K more often than Basic sessions.",
                """
                with groups as (select * from {batch}),
                plans as (
                    select subscription_type,
                           sum(share_of_sessions_4k * session_count) / sum(session_count) as share_4k
                    from groups
                    where session_count > 0
                    group by subscription_type
                )
                select premium.share_4k as premium_share_4k, basic.share_4k as basic_share_4k
                from plans as premium
                cross join plans as basic
                where premium.subscription_type = 'Premium' and basic.subscription_type = 'Basic'
                  and premium.share_4k <= basic.share_4k
                """,
                severity=WARNING,
                why="Measured ≈ 37 % vs ≈ 24 %; losing it suggests quality levels or plans got mixed up.",
            ),
        ),
    )


def geographic_suite(d: Domains) -> SuiteSpec:
    low, high = COMPLETION_BAND
    return SuiteSpec(
        name="marts_rpt_geographic",
        stage=STAGE,
        schema="marts",
        table="rpt_geographic",
        expectations=(
            named(
                "every_country_present",
                gxe.ExpectColumnDistinctValuesToContainSet(
                    column="country", value_set=list(d.countries)
                ),
                "A market that vanished from the geographic mart is a broken load, not a business change.",
            ),
            between(
                "no_country_without_users",
                "user_count",
                1,
                None,
                "Every country row has users: a zero means users were lost on the way.",
            ),
            named(
                "every_country_watches",
                gxe.ExpectColumnValuesToNotBeNull(column="mean_completion_percentage"),
                "Every country has sessions (null mean completion = no session at all).",
            ),
            between(
                "country_mean_completion_in_band",
                "mean_completion_percentage",
                low,
                high,
                "Country means mix the plans' means (68-88 %).",
                severity=WARNING,
            ),
            sql_check(
                "revenue_matches_genre_mart",
                "Revenue summed over countries equals revenue summed over genres (marts.rpt_revenue_by_genre), to the cent.",
                """
                with countries as (select * from {batch}),
                by_country as (select coalesce(sum(revenue_usd), 0) as revenue_usd from countries),
                by_genre as (
                    select coalesce(sum(revenue_cents), 0) / 100.0 as revenue_usd from marts.rpt_revenue_by_genre
                )
                select c.revenue_usd as country_total_usd, g.revenue_usd as genre_total_usd
                from by_country as c
                cross join by_genre as g
                where abs(c.revenue_usd - g.revenue_usd) >= 0.005
                """,
            ),
        ),
    )


def revenue_by_genre_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="marts_rpt_revenue_by_genre",
        stage=STAGE,
        schema="marts",
        table="rpt_revenue_by_genre",
        expectations=(
            named(
                "every_genre_earns",
                gxe.ExpectColumnDistinctValuesToContainSet(
                    column="genre", value_set=list(d.genres), severity=WARNING
                ),
                "All eleven genres are watched every period; a missing one is worth a look.",
            ),
        ),
    )


def financial_revenue_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="marts_rpt_financial_revenue",
        stage=STAGE,
        schema="marts",
        table="rpt_financial_revenue",
        expectations=(
            sql_check(
                "revenue_matches_genre_mart",
                "Each month's revenue in the financial mart equals the genre mart's (marts.rpt_revenue_by_genre), to the cent.",
                """
                with financial as (select * from {batch}),
                by_plan_country as (
                    select revenue_month, sum(revenue_cents) as financial_cents from financial group by revenue_month
                ),
                by_genre as (
                    select revenue_month, sum(revenue_cents) as genre_cents
                    from marts.rpt_revenue_by_genre
                    group by revenue_month
                )
                select coalesce(f.revenue_month, g.revenue_month) as revenue_month, f.financial_cents, g.genre_cents
                from by_plan_country as f
                full outer join by_genre as g on g.revenue_month = f.revenue_month
                where f.financial_cents is null or g.genre_cents is null or f.financial_cents <> g.genre_cents
                """,
                why="The finance dashboard and the genre answer must quote the same revenue.",
            ),
        ),
    )


def device_completion_suite(d: Domains) -> SuiteSpec:
    low, high = COMPLETION_BAND
    return SuiteSpec(
        name="marts_rpt_device_completion",
        stage=STAGE,
        schema="marts",
        table="rpt_device_completion",
        expectations=(
            named(
                "every_device_present",
                gxe.ExpectColumnDistinctValuesToContainSet(
                    column="device_type", value_set=list(d.device_types)
                ),
                "Each of the five devices has sessions; a missing one means lost rows.",
            ),
            between(
                "device_mean_completion_in_band",
                "mean_completion_percentage",
                low,
                high,
                "Device means mix the plans' means (68-88 %); outside the band, completion is broken.",
            ),
            sql_check(
                "device_share_in_band",
                "Each device's share of sessions lies in its band: "
                + ", ".join(f"{k} {lo:.0%}-{hi:.0%}" for k, (lo, hi) in DEVICE_SHARE_BANDS.items())
                + ".",
                f"""
                with devices as (select * from {{batch}}),
                bands (device_type, low, high) as (values {_values(DEVICE_SHARE_BANDS)})
                select b.device_type, d.share_of_sessions, b.low, b.high
                from bands as b
                left join devices as d on d.device_type = b.device_type
                where d.share_of_sessions is null or d.share_of_sessions < b.low or d.share_of_sessions > b.high
                """,
                severity=WARNING,
                why="Measured mix ≈ 36 / 31 / 14 / 14 / 5 %; a shift is news, not necessarily an error.",
            ),
        ),
    )


def seasonal_by_month_suite(d: Domains) -> SuiteSpec:
    low, high = COMPLETION_BAND
    return SuiteSpec(
        name="marts_rpt_seasonal_by_month",
        stage=STAGE,
        schema="marts",
        table="rpt_seasonal_by_month",
        expectations=(
            between(
                "monthly_mean_completion_in_band",
                "mean_completion_percentage",
                low,
                high,
                "Monthly means mix the plans' means (68-88 %).",
            ),
            sql_check(
                "no_month_with_a_session_gap",
                f"No month has fewer than {MIN_MONTH_SHARE_OF_MEDIAN:.0%} of the median month's sessions.",
                f"""
                with months as (select * from {{batch}}),
                typical as (
                    select percentile_cont(0.5) within group (order by session_count) as median_sessions from months
                )
                select m.activity_month, m.session_count, t.median_sessions
                from months as m
                cross join typical as t
                where m.session_count < {MIN_MONTH_SHARE_OF_MEDIAN} * t.median_sessions
                """,
                severity=WARNING,
                why="Sessions are spread evenly over the months; a hollow month usually means a "
                "sessions file was not loaded.",
            ),
        ),
    )


def content_costs_suite(d: Domains) -> SuiteSpec:
    return SuiteSpec(
        name="marts_rpt_content_costs",
        stage=STAGE,
        schema="marts",
        table="rpt_content_costs",
        expectations=(
            null_rate(
                "cost_per_session",
                0.10,
                "At most 10 % of titles may have no session at all (cost per session is then null): "
                "every title has hundreds of sessions in the real log.",
                WARNING,
            ),
            null_rate(
                "cost_per_view",
                0.01,
                "At most 1 % of titles may report zero catalogue views (cost per view is then null).",
                WARNING,
            ),
        ),
    )


def mart_suites(d: Domains) -> list[SuiteSpec]:
    """Every marts-stage suite, in the order the checkpoint runs and reports them."""
    return [
        user_analytics_suite(d),
        geographic_suite(d),
        device_completion_suite(d),
        seasonal_by_month_suite(d),
        revenue_by_genre_suite(d),
        financial_revenue_suite(d),
        content_costs_suite(d),
    ]
