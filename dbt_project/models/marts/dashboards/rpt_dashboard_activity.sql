{#-
    Viewing activity per month for the web dashboards' filters (grain activity_month x country x
    subscription_type x device_type, each of the three also as 'All'). Distinct active users do
    not add up across countries, plans or devices, so every combination a filter can select is
    a row of its own, counted exactly; months add up for sessions and minutes only.
-#}
-- Incremental by month: every row is one month's, computed from that month's sessions and
-- user-months only, so a build recomputes the months from the earliest one this run's new
-- sessions fall in (delete+insert on activity_month; insert_overwrite of month partitions on
-- dbt-spark). A new users or content snapshot re-validates every session, and then every
-- month is recomputed.
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **replace_by_key('activity_month'),
    )
}}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where watch_date >= {{ first_month_written_this_run() }}
    {%- endif %}
),

users as (
    select * from {{ ref('users') }}
),

user_months as (
    select * from {{ ref('int_user_months_active') }}
    {%- if is_incremental() %}
    where activity_month >= {{ first_month_written_this_run() }}
    {%- endif %}
),

-- One row per user, month and device: the log is read once, and the sets below count users
-- as rows of this far smaller relation.
user_month_devices as (
    select
        sessions.user_id,
        {{ month_start('sessions.watch_date') }} as activity_month,
        users.country,
        users.subscription_type,
        sessions.device_type,
        count(*) as session_count,
        sum(sessions.watch_minutes) as total_watch_minutes,
        sum(
            cast(sessions.completion_percentage as {{ dbt.type_numeric() }})
        ) as sum_completion_percentage
    from sessions
    inner join users
        on sessions.user_id = users.user_id
    group by
        sessions.user_id,
        {{ month_start('sessions.watch_date') }},
        users.country,
        users.subscription_type,
        sessions.device_type
),

-- A user has one country and one plan, so in every grouping set below a user is one row of
-- its input: user_month_devices for a device's rows, the user-months for the 'All' devices
-- rows. Counting rows counts distinct users exactly, and no set needs count(distinct), which
-- sorted the relation once per grouping set.
device_rows as (
    select
        activity_month,
        case when grouping(country) = 1 then 'All' else country end as country,
        case
            when grouping(subscription_type) = 1 then 'All' else subscription_type
        end as subscription_type,
        device_type,
        count(*) as active_user_count,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from user_month_devices
    group by activity_month, device_type, cube (country, subscription_type)
),

all_devices_rows as (
    select
        activity_month,
        case when grouping(country) = 1 then 'All' else country end as country,
        case
            when grouping(subscription_type) = 1 then 'All' else subscription_type
        end as subscription_type,
        'All' as device_type,
        count(*) as active_user_count,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from user_months
    group by activity_month, cube (country, subscription_type)
),

cube_rows as (
    select * from device_rows
    union all
    select * from all_devices_rows
),

final as (
    select
        activity_month,
        country,
        subscription_type,
        device_type,
        cast(active_user_count as {{ dbt.type_bigint() }}) as active_user_count,
        cast(session_count as {{ dbt.type_bigint() }}) as session_count,
        cast(total_watch_minutes as {{ dbt.type_bigint() }}) as total_watch_minutes,
        -- Rounded to 6 decimals, then typed as the contract states (plain numeric on PostgreSQL):
        -- an incremental build compares the query's column types with the table's.
        cast(
            cast(sum_completion_percentage as {{ dbt.type_numeric() }})
            as {{ 'decimal(28, 6)' if target.type == 'spark' else 'numeric' }}
        ) as sum_completion_percentage
    from cube_rows
)

select * from final
