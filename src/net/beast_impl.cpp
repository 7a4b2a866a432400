// Beast's out-of-line parts (HTTP parser, error categories) are compiled once, here
// (BOOST_BEAST_SEPARATE_COMPILATION), as Asio's are in asio_impl.cpp. Beast's sources use Asio
// only through its headers, whose definitions BOOST_ASIO_SEPARATE_COMPILATION keeps in
// asio_impl.cpp: the two libraries are compiled once each and link together.
#include <boost/beast/src.hpp>
