{#-
    Question 2: monthly retention by plan (grain subscription_type x cohort_month x
    months_since_first_watch). A user's cohort is the calendar month of their first session;
    they are retained in month k when they watched at least once in the k-th calendar month
    after it. Every cohort gets a row for each observed month from its own to the last one, so
    a month where nobody came back shows retention 0 instead of being missing. The plan is the
    user's current plan (the export has no plan history).
-#}
with

user_months as (
    select * from {{ ref('int_user_months_active') }}
),

cohorts as (
    select
        user_id,
        subscription_type,
        min(cohort_month) as cohort_month
    from user_months
    group by user_id, subscription_type
),

cohort_sizes as (
    select
        subscription_type,
        cohort_month,
        count(*) as cohort_size
    from cohorts
    group by subscription_type, cohort_month
),

observed_months as (
    select distinct activity_month from user_months
),

cohort_grid as (
    select
        cohort_sizes.subscription_type,
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        observed_months.activity_month
    from cohort_sizes
    inner join observed_months
        on cohort_sizes.cohort_month <= observed_months.activity_month
),

retained as (
    select
        cohorts.subscription_type,
        cohorts.cohort_month,
        user_months.activity_month,
        count(*) as retained_users
    from cohorts
    inner join user_months
        on cohorts.user_id = user_months.user_id
    group by cohorts.subscription_type, cohorts.cohort_month, user_months.activity_month
),

final as (
    select
        cohort_grid.subscription_type,
        cohort_grid.cohort_month,
        -- dbt-postgres renders datediff as one long line: the length check does not apply here.
        cast({{ dbt.datediff('cohort_grid.cohort_month', 'cohort_grid.activity_month', 'month') }} as integer)  -- noqa: LT05
        as months_since_first_watch,
        cohort_grid.activity_month,
        cohort_grid.cohort_size,
        coalesce(retained.retained_users, 0) as retained_users,
        cast(
            cast(coalesce(retained.retained_users, 0) as {{ dbt.type_numeric() }})
            / cast(cohort_grid.cohort_size as {{ dbt.type_numeric() }})
            as numeric(18, 6)
        ) as retention_rate
    from cohort_grid
    left join retained
        on cohort_grid.subscription_type = retained.subscription_type
        and cohort_grid.cohort_month = retained.cohort_month
        and cohort_grid.activity_month = retained.activity_month
)

select * from final
