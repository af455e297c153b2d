-- TPC-H Q20 for the SQLite oracle (DECIMAL as value * 100). "ps_availqty > 0.5 * sum" is
-- compared exactly as "ps_availqty * 200 > sum of quantities in hundredths" (NULL when no
-- line matches, as in the original).
select
	s_name,
	s_address
from
	supplier,
	nation
where
	s_suppkey in (
		select
			ps_suppkey
		from
			partsupp
		where
			ps_partkey in (
				select
					p_partkey
				from
					part
				where
					p_name like 'forest%'
			)
			and ps_availqty * 200 > (
				select
					sum(l_quantity)
				from
					lineitem
				where
					l_partkey = ps_partkey
					and l_suppkey = ps_suppkey
					and l_shipdate >= '1994-01-01'
					and l_shipdate < date('1994-01-01', '+1 year')
			)
	)
	and s_nationkey = n_nationkey
	and n_name = 'CANADA'
order by
	s_name;
