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
    {%- set newest = newest_validation_load_id(validated) -%}
    {%- if newest is not none -%}
    validation_load_id = {{ newest }}
    {%- else -%}
    validation_load_id = (select max(validation_load_id) as newest_validation_load_id from {{ validated }})
    {%- endif -%}
{%- endmacro %}


{#-
    The newest validation_load_id, looked up when the calling node runs (its upstream
    int_viewing_sessions_validated has been built by then), on PostgreSQL. Written as a literal,
    the planner estimates its rows from the column's statistics (the model analyzes itself after
    each build): an appending day's few thousand rows are read through the index. Behind a
    subquery the value is unknown when the plan is made, and the planner planned for every row:
    a scan and a hash of the whole table, 1.2 s of the 1.2 s it took to find the users a day
    touched at scale 10 (17 ms with the literal). none - the subquery is written instead - while
    parsing, when the table does not exist or is empty, and on Spark, which evaluates a scalar
    subquery before planning the rest.
-#}
{% macro newest_validation_load_id(validated) -%}
    {{- return(adapter.dispatch('newest_validation_load_id')(validated)) -}}
{%- endmacro %}


{% macro default__newest_validation_load_id(validated) -%}
    {{- return(none) -}}
{%- endmacro %}


{% macro postgres__newest_validation_load_id(validated) -%}
    {%- if not execute or load_relation(validated) is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set newest = run_query('select max(validation_load_id) from ' ~ validated) -%}
    {{- return(newest.columns[0].values()[0]) -}}
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



{#-
    The users whose sessions this run changed: those of the sessions it wrote and of every
    earlier version of those sessions (a corrected re-export replaces a session by session_id,
    and the correction may name another user). A per-user aggregate of the core differs from
    the last build's only for these users: a new users or content snapshot (a changed plan, a
    title's new length) makes int_viewing_sessions_validated re-validate, and so write, every
    session, which touches every user. Needs the depends_on line above.
-#}
{% macro users_with_sessions_written_this_run() -%}
    select validated.user_id
    from {{ ref('int_viewing_sessions_validated') }} as validated
    where validated.session_id in (
        select written.session_id from ({{ sessions_written_this_run() }}) as written
    )
{%- endmacro %}
