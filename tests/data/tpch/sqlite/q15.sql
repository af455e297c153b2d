-- TPC-H Q15 for the SQLite oracle (DECIMAL as value * 100; total_revenue has scale 4 and
-- the max is compared exactly).
with revenue0 as (
	select
		l_suppkey as supplier_no,
		sum(l_extendedprice * (100 - l_discount)) as total_revenue
	from
		lineitem
	where
		l_shipdate >= '1996-01-01'
		and l_shipdate < date('1996-01-01', '+3 months')
	group by
		l_suppkey
)
select
	s_suppkey,
	s_name,
	s_address,
	s_phone,
	dec(total_revenue, 4) as total_revenue
from
	supplier,
	revenue0
where
	s_suppkey = supplier_no
	and revenue0.total_revenue = (
		select
			max(total_revenue)
		from
			revenue0
	)
order by
	s_suppkey;
