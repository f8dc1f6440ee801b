{#-
    Every user's sessions per level of quality, device and weekday (grain group_kind x user_id x
    group_level): count, sum and sum of squares of completion and of watch minutes. Sessions of one
    user are not independent (completion correlates within a user), so the session-level tests
    resample and cluster on users; these per-user sums are all they need, whatever the log's size.

    Incremental per user on PostgreSQL (replace_by_user): a build recomputes, from all of their
    sessions, the users whose sessions it wrote or replaced (a new day at scale 45 is 41,088
    sessions among 225,000 users, so at most a fifth of them; a new users snapshot, which may
    change a plan, re-validates every session and so touches every user). A table rebuilt
    whole on Spark.
-#}
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{ config(**replace_by_user()) }}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where user_id in ({{ users_with_sessions_written_this_run() }})
    {%- endif %}
),

users as (
    select * from {{ ref('users') }}
),

tagged as (
    select
        sessions.user_id,
        users.subscription_type,
        sessions.quality_level,
        sessions.device_type,
        cast({{ iso_weekday('sessions.watch_date') }} as {{ dbt.type_string() }}) as iso_weekday,
        cast(sessions.completion_percentage as {{ dbt.type_float() }}) as completion_pct,
        cast(sessions.watch_minutes as {{ dbt.type_float() }}) as minutes_watched
    from sessions
    left join users
        on sessions.user_id = users.user_id
),

{#- One block per kind of level, the same sums in each. -#}
{%- set kinds = [
    ('quality', 'quality_level'),
    ('device', 'device_type'),
    ('weekday', 'iso_weekday'),
] %}

{% for kind, level_column in kinds %}
by_{{ kind }} as (
    select
        '{{ kind }}' as group_kind,
        user_id,
        subscription_type,
        {{ level_column }} as group_level,
        count(*) as session_count,
        count(completion_pct) as completion_count,
        sum(completion_pct) as sum_completion,
        sum(completion_pct * completion_pct) as sum_sq_completion,
        count(minutes_watched) as minutes_count,
        sum(minutes_watched) as sum_minutes,
        sum(minutes_watched * minutes_watched) as sum_sq_minutes
    from tagged
    where {{ level_column }} is not null
    group by user_id, subscription_type, {{ level_column }}
),

{% endfor %}
final as (
    {% for kind, _ in kinds %}
    select * from by_{{ kind }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
