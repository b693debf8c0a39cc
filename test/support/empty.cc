// keeps tern_test_support non-empty
