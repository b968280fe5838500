System.Console.WriteLine("refinements sample");
