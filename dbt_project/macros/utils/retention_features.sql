{#-
    The retention model's behaviour features, aggregated per user from a CTE of sessions flagged
    is_before (before the cutoff), is_recent (the 30 days before it), is_4k and is_mobile (from
    retention_session_flags): the one definition ana_user_retention_features and
    ana_user_retention_history share.
-#}
{% macro retention_feature_columns() -%}
    cast(sum(is_before) as {{ dbt.type_bigint() }}) as sessions_before,
    cast(
        sum(case when is_before = 1 then watch_minutes end) as {{ dbt.type_bigint() }}
    ) as watch_minutes_before,
    cast(
        avg(
            case when is_before = 1 then cast(completion_percentage as {{ dbt.type_numeric() }}) end
        ) as {{ dbt.type_float() }}
    ) as mean_completion_before,
    count(distinct case when is_before = 1 then watch_date end) as active_days_before,
    max(case when is_before = 1 then watch_date end) as last_session_before,
    cast(avg(case when is_before = 1 then is_4k end) as {{ dbt.type_float() }}) as share_4k_before,
    cast(
        avg(case when is_before = 1 then is_mobile end) as {{ dbt.type_float() }}
    ) as share_mobile_before,
    cast(sum(is_recent) as {{ dbt.type_bigint() }}) as sessions_last_30_days
{%- endmacro %}


{#-
    The per-session 4K and mobile flags the shares above average, from the sessions relation
    `sessions`. numeric(28, 6), so Spark's avg keeps 10 decimals (it adds 4 to its input's): the
    two models once differed here, and Spark averaged one's 1.0 literals at 5 decimals.
-#}
{% macro retention_session_flags(sessions) -%}
    cast(case when {{ sessions }}.quality_level = '4K' then 1.0 else 0.0 end as {{ dbt.type_numeric() }}) as is_4k,
    cast(case when {{ sessions }}.device_type = 'Mobile' then 1.0 else 0.0 end as {{ dbt.type_numeric() }}) as is_mobile
{%- endmacro %}
