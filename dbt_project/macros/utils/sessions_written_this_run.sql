{#-
    The condition "written by int_viewing_sessions_validated in this run": its rows of the newest
    validation_load_id, which marks the rows one build wrote (a new load's rows on an
    incremental day, every row after a full re-validation). The one place it is written; the
    macros below, core viewing_sessions and the reconciliation test use it. `relation` is the
    validated model (default: its ref). The YAML `where` of that model's own tests cannot call a
    macro and writes the same condition with the model's fixed relation name.
-#}
{% macro written_this_run(relation=none) -%}
    {%- set validated = relation if relation is not none else ref('int_viewing_sessions_validated') -%}
    validation_load_id = (select max(validation_load_id) as newest_validation_load_id from {{ validated }})
{%- endmacro %}


{#-
    The valid sessions int_viewing_sessions_validated wrote in this run. The core inserted
    exactly those it did not hold yet, so an aggregate of the core changes only in the periods
    these rows fall in. A model using this on an incremental
    run also needs `-- depends_on: {{ ref('int_viewing_sessions_validated') }}`.
-#}
{% macro sessions_written_this_run() -%}
    select *
    from {{ ref('int_viewing_sessions_validated') }}
    where quarantine_reason is null
        and {{ written_this_run() }}
{%- endmacro %}


{#- SQL scalar: the first day of the earliest month this run's new sessions fall in (null when none). -#}
{% macro first_month_written_this_run() -%}
    (select min({{ month_start('watch_date') }}) from ({{ sessions_written_this_run() }}) as written)
{%- endmacro %}


{#- SQL scalar: the earliest day this run's new sessions fall in (null when none). -#}
{% macro first_day_written_this_run() -%}
    (select min(watch_date) from ({{ sessions_written_this_run() }}) as written)
{%- endmacro %}

