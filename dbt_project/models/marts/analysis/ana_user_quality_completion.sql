{#-
    Completion per user and quality level (grain user_id x quality_level), for users with a plan
    and sessions with a quality level: sessions, summed completion and the within-cell sum of
    squares, enough for the OLS of completion on quality and plan with user-clustered errors.
    Incremental per user on PostgreSQL (replace_by_user; a new users snapshot, which may give a
    user a plan, touches every user with sessions); a table on Spark.
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

known as (
    select
        sessions.user_id,
        sessions.quality_level,
        users.subscription_type,
        sessions.completion_percentage
    from sessions
    inner join users
        on sessions.user_id = users.user_id
    where
        sessions.quality_level is not null
        and users.subscription_type is not null
),

final as (
    select
        user_id,
        quality_level,
        subscription_type,
        count(*) as session_count,
        cast(sum(completion_percentage) as {{ dbt.type_float() }}) as sum_completion_percentage,
        cast(
            var_pop(completion_percentage) * count(*) as {{ dbt.type_float() }}
        ) as within_sum_of_squares
    from known
    group by user_id, quality_level, subscription_type
)

select * from final
