{#-
    The valid sessions int_viewing_sessions_validated wrote in this run (its newest
    validation_load_id): a new load's rows on an incremental day, every row after a full
    re-validation. The core inserted exactly those it did not hold yet, so an aggregate of the
    core changes only in the periods these rows fall in. A model using this on an incremental
    run also needs `-- depends_on: {{ ref('int_viewing_sessions_validated') }}`.
-#}
{% macro sessions_written_this_run() -%}
    select *
    from {{ ref('int_viewing_sessions_validated') }}
    where quarantine_reason is null
        and validation_load_id = (
            select max(validation_load_id) from {{ ref('int_viewing_sessions_validated') }}
        )
{%- endmacro %}


{#- SQL scalar: the first day of the earliest month this run's new sessions fall in (null when none). -#}
{% macro first_month_written_this_run() -%}
    (select min({{ month_start('watch_date') }}) from ({{ sessions_written_this_run() }}) as written)
{%- endmacro %}


{#- SQL scalar: the earliest day this run's new sessions fall in (null when none). -#}
{% macro first_day_written_this_run() -%}
    (select min(watch_date) from ({{ sessions_written_this_run() }}) as written)
{%- endmacro %}

