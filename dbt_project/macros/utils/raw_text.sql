{#-
    Re-serialise a typed landing row for the quarantine's raw_text column. The ingest keeps the
    original text only for the lines it rejects; rows refused in staging were parsed fine, so
    their text is rebuilt from the typed columns in the file's own layout.
-#}

{#- A CSV line: values joined by commas, nulls as empty fields. -#}
{% macro raw_text_csv(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(" ~ to_text(column) ~ ", '')") -%}
        {%- if not loop.last -%}{%- do parts.append("','") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}


{#-
    A JSON object of the item's scalar keys, in the file's key order. `text_columns` are quoted
    (with embedded double quotes escaped); the others are written as numbers.
-#}
{% macro raw_text_json(columns, text_columns) -%}
    {%- set parts = ["'{'"] -%}
    {%- for column in columns -%}
        {%- set key = "'\"" ~ column ~ "\": '" -%}
        {%- if column in text_columns -%}
            {%- do parts.append(key) -%}
            {%- do parts.append("'\"'") -%}
            {%- do parts.append("coalesce(" ~ escape_double_quotes(column) ~ ", '')") -%}
            {%- do parts.append("'\"'") -%}
        {%- else -%}
            {%- do parts.append(key) -%}
            {%- do parts.append("coalesce(" ~ to_text(column) ~ ", 'null')") -%}
        {%- endif -%}
        {%- if not loop.last -%}{%- do parts.append("', '") -%}{%- endif -%}
    {%- endfor -%}
    {%- do parts.append("'}'") -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}
