// usm c++: objects made by operator new are charged to the line that said
// new, not to libstdc++'s operator new (trace.sh checks the report).
#include <cstdio>
#include <vector>

struct point {
	long x, y;
};

int main()
{
	point *ps = new point[8]; // SITE:new
	for (int i = 0; i < 8; i++)
		ps[i].x = i; // 8 writes
	std::vector<int> v(100, 1);
	long sum = 0;
	for (int x : v)
		sum += x;
	std::printf("%ld %ld\n", sum, ps[7].x);
	delete[] ps;
	return 0;
}
